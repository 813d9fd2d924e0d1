//go:build tools

// Package tools only records, for `go mod tidy`, the commands built from this
// wrapper module by scripts/e2e-tools.sh. It is never compiled.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
