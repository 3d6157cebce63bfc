//go:build tools

// Package tools pins sigs.k8s.io/krew so `go build sigs.k8s.io/krew/cmd/krew` resolves from this module.
package tools

import _ "sigs.k8s.io/krew/cmd/krew"
