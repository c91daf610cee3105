// Command pause sleeps as PID 1 of a pod sandbox until it is told to stop.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Ignoring SIGCHLD makes the kernel reap the pod's orphans, which PID 1 must do.
	signal.Ignore(syscall.SIGCHLD)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
