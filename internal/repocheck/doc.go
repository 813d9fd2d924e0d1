// Package repocheck holds the repository's checks: tests that run on
// whatever the repository's platform.yaml describes (../../platform.yaml)
// and pass for every valid description once `make generate` has run. They
// name no environment, cluster or part: they check that the committed
// tree and the derived docs are what the generator writes from the
// description, that every environment passes the manifest checks
// (`platformctl check`), and that every key a manifest reads is sealed.
//
// The generator's own tests run on the fixture of internal/testrepo
// instead, so that an operator's change to platform.yaml never breaks them.
package repocheck
