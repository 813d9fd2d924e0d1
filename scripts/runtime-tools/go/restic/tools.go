//go:build tools

// Package tools only records, for `go mod tidy`, the command built from this
// wrapper module by scripts/runtime-tools.sh (restic 0.18.0, the restic/restic:0.18.0 image's program). It is never compiled.
package tools

import (
	_ "github.com/restic/restic/cmd/restic"
)
