package invenio

import "flag"

// Every package's tests accept -update, because `make update` runs
// `go test ./... -update`.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")
