// Wrapper module that only pins (with go.sum) the module zips whose CRD
// manifests the e2e tests apply and that no binary wrapper already requires.
// Nothing is built from it; scripts/e2e-tools.sh copies the CRDs out of the
// module cache (see docs/e2e-tools.md).
module lbl.gov/invenio-gitops/e2e-tools/crds

go 1.26.0

require github.com/fluxcd/source-controller v1.9.6
