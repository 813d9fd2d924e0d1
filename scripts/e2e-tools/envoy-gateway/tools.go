//go:build tools

// Package tools only records, for `go mod tidy`, the commands built from this
// wrapper module by scripts/e2e-tools.sh. It is never compiled.
package tools

import (
	_ "github.com/envoyproxy/gateway/cmd/egctl"
	_ "github.com/envoyproxy/gateway/cmd/envoy-gateway"
)
