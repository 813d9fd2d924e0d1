//go:build tools

// Package tools only records, for `go mod tidy`, the command built from this
// wrapper module by scripts/runtime-tools.sh (postgres_exporter v0.17.1). It is never compiled.
package tools

import (
	_ "github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter"
)
