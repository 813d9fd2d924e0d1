//go:build tools

// Package tools only records, for `go mod tidy`, the command built from this
// wrapper module by scripts/e2e-tools.sh. It is never compiled.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
