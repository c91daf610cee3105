//go:build tools

// Package kwok only records the command this module builds.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
