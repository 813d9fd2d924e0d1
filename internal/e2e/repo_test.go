//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
	"lbl.gov/invenio-gitops/internal/workcopy"
)

// repo is a working copy of the GitOps repository for one test, sealed for
// the test's key pair (package workcopy).
type repo struct {
	*workcopy.Repo
}

func newRepo(t *testing.T, key cluster.SealingKeyPair, envs ...string) *repo {
	t.Helper()
	// Operator-supplied values (the SAML key pair): any value exercises
	// the sealing path; nothing on a simulated node reads it.
	op := func(sealing.Key) []byte { return []byte("e2e-operator-value-" + randomHex(8)) }
	return &repo{workcopy.New(t, root, platformctl, key.CertPEM, op, envs...)}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
