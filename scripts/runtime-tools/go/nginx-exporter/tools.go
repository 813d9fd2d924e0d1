//go:build tools

// Package tools only records, for `go mod tidy`, the command built from this
// wrapper module by scripts/runtime-tools.sh (nginx-prometheus-exporter 1.4.1). It is never compiled.
package tools

import (
	_ "github.com/nginx/nginx-prometheus-exporter"
)
