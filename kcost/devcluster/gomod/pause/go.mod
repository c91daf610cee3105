// The pod sandbox's process: holds the pod's namespaces until the kubelet stops it.
// Built here because no registry can be reached for the usual pause image.
module kcost.dev/devcluster/pause

go 1.25.0
