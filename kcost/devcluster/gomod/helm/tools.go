//go:build tools

// Package helm only records the command this module builds.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
