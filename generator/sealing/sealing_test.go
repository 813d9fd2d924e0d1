package sealing_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
)

// `make update` runs `go test ./... -update`.
var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var (
	testKeyOnce sealingtest.KeyPair
	otherKey    sealingtest.KeyPair
)

// keys are made once per test binary: RSA generation is the slow part.
func testKeys(t *testing.T) (sealingtest.KeyPair, sealingtest.KeyPair) {
	t.Helper()
	if testKeyOnce.Key == nil {
		testKeyOnce = sealingtest.ValidKeyPair(t)
		otherKey = sealingtest.ValidKeyPair(t)
	}
	return testKeyOnce, otherKey
}

func target(scope sealing.Scope) sealing.Target {
	return sealing.Target{Name: "invenio-app", Namespace: "invenio-dev", Scope: scope,
		Labels: map[string]string{"app.kubernetes.io/name": "invenio-app", "app.kubernetes.io/part-of": "inveniordm"}}
}

const samlKey = "-----BEGIN PRIVATE KEY-----\nTEST-PLAINTEXT-NOT-A-KEY\n-----END PRIVATE KEY-----\n"

// TestRoundTripEveryScope seals with our code and unseals with
// sealed-secrets' own code, and checks the metadata is what kubeseal
// writes for the scope.
func TestRoundTripEveryScope(t *testing.T) {
	kp, _ := testKeys(t)
	pub, err := sealing.ParseCertificate(kp.CertPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	values := map[string][]byte{"secret-key": []byte("s3cr3t-TEST-PLAINTEXT"), "sp.key": []byte(samlKey)}
	for _, tc := range []struct {
		scope      sealing.Scope
		annotation map[string]string
	}{
		{sealing.Strict, nil},
		{sealing.NamespaceWide, map[string]string{"sealedsecrets.bitnami.com/namespace-wide": "true"}},
		{sealing.ClusterWide, map[string]string{"sealedsecrets.bitnami.com/cluster-wide": "true"}},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			tg := target(tc.scope)
			ss, err := sealing.Seal(rand.Reader, pub, nil, tg, values)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.annotation, ss.Annotations); diff != "" {
				t.Errorf("metadata.annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ss.ObjectMeta, ss.Spec.Template.ObjectMeta); diff != "" {
				t.Errorf("spec.template.metadata differs from metadata (-metadata +template):\n%s", diff)
			}
			if diff := cmp.Diff(tg.Labels, ss.Spec.Template.Labels); diff != "" {
				t.Errorf("template labels (-want +got):\n%s", diff)
			}
			if got := sealing.ScopeOf(ss); got != tc.scope {
				t.Errorf("ScopeOf = %s", got)
			}
			// Through the file form, as the controller gets it from git.
			b, err := sealing.Marshal(ss)
			if err != nil {
				t.Fatal(err)
			}
			back, err := sealing.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			secret, err := sealingtest.Unseal(t, back, kp)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(values, secret.Data); diff != "" {
				t.Errorf("unsealed data (-sealed +unsealed):\n%s", diff)
			}
			if diff := cmp.Diff(tg.Labels, secret.Labels); diff != "" {
				t.Errorf("Secret labels (-want +got):\n%s", diff)
			}
			if secret.Name != tg.Name || secret.Namespace != tg.Namespace {
				t.Errorf("Secret is %s/%s", secret.Namespace, secret.Name)
			}
			for _, p := range values {
				if bytes.Contains(b, p) {
					t.Errorf("the file holds a plaintext:\n%s", b)
				}
			}
		})
	}
}

// TestMovedSealedSecret: a strict-scope SealedSecret moved to another
// name or namespace does not decrypt; namespace-wide survives a rename;
// cluster-wide survives both. A wrong key never decrypts.
func TestMovedSealedSecret(t *testing.T) {
	kp, other := testKeys(t)
	pub := &kp.Key.PublicKey
	for _, tc := range []struct {
		scope           sealing.Scope
		name, namespace string
		wrongKey        bool
		decrypts        bool
	}{
		{sealing.Strict, "invenio-app", "invenio-dev", false, true},
		{sealing.Strict, "invenio-app", "invenio-dev", true, false},
		{sealing.Strict, "dev-invenio-app", "invenio-dev", false, false},
		{sealing.Strict, "invenio-app", "invenio-prod", false, false},
		{sealing.NamespaceWide, "dev-invenio-app", "invenio-dev", false, true},
		{sealing.NamespaceWide, "invenio-app", "invenio-prod", false, false},
		{sealing.ClusterWide, "dev-invenio-app", "invenio-prod", false, true},
	} {
		name := string(tc.scope) + " as " + tc.namespace + "/" + tc.name
		if tc.wrongKey {
			name += " with another key"
		}
		t.Run(name, func(t *testing.T) {
			ss, err := sealing.Seal(rand.Reader, pub, nil, target(tc.scope), map[string][]byte{"secret-key": []byte("TEST-PLAINTEXT")})
			if err != nil {
				t.Fatal(err)
			}
			// Moved the way kustomize's namePrefix or namespace would move it.
			ss.Name, ss.Namespace = tc.name, tc.namespace
			k := kp
			if tc.wrongKey {
				k = other
			}
			secret, err := sealingtest.Unseal(t, ss, k)
			if tc.decrypts {
				if err != nil {
					t.Fatalf("does not decrypt: %v", err)
				}
				if got := string(secret.Data["secret-key"]); got != "TEST-PLAINTEXT" {
					t.Errorf("decrypts to %q", got)
				}
				return
			}
			if err == nil {
				t.Fatal("decrypts, but must not")
			}
			if !strings.Contains(err.Error(), "no key could decrypt secret") {
				t.Errorf("error %q, want the controller's \"no key could decrypt secret\"", err)
			}
		})
	}
}

// TestMergeKeepsOtherCiphertexts: sealing one key leaves every other
// key's ciphertext, and so its line in the file, byte-identical.
func TestMergeKeepsOtherCiphertexts(t *testing.T) {
	kp, _ := testKeys(t)
	pub := &kp.Key.PublicKey
	tg := target(sealing.Strict)
	before, err := sealing.Seal(rand.Reader, pub, nil, tg, map[string][]byte{"a": []byte("TEST-A"), "b": []byte("TEST-B"), "c": []byte("TEST-C")})
	if err != nil {
		t.Fatal(err)
	}
	after, err := sealing.Seal(rand.Reader, pub, before, tg, map[string][]byte{"b": []byte("TEST-B2"), "d": []byte("TEST-D")})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "c"} {
		if before.Spec.EncryptedData[k] != after.Spec.EncryptedData[k] {
			t.Errorf("the ciphertext of %s changed", k)
		}
	}
	if before.Spec.EncryptedData["b"] == after.Spec.EncryptedData["b"] {
		t.Error("the ciphertext of b did not change")
	}
	secret, err := sealingtest.Unseal(t, after, kp)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"a": []byte("TEST-A"), "b": []byte("TEST-B2"), "c": []byte("TEST-C"), "d": []byte("TEST-D")}
	if diff := cmp.Diff(want, secret.Data); diff != "" {
		t.Errorf("unsealed (-want +got):\n%s", diff)
	}
	// In the file: b's line changed and d's was added, nothing else.
	x, _ := sealing.Marshal(before)
	y, _ := sealing.Marshal(after)
	changed := sealingtest.LineDiff(string(x), string(y))
	want2 := []string{"-     b: " + before.Spec.EncryptedData["b"], "+     b: " + after.Spec.EncryptedData["b"], "+     d: " + after.Spec.EncryptedData["d"]}
	if diff := cmp.Diff(want2, changed); diff != "" {
		t.Errorf("changed lines of the file (-want +got):\n%s", diff)
	}
	// The input is not modified.
	if _, ok := before.Spec.EncryptedData["d"]; ok {
		t.Error("Seal modified its input")
	}
}

// TestMergeRefusesAnotherBinding: values cannot be added to a
// SealedSecret bound to another name, namespace or scope.
func TestMergeRefusesAnotherBinding(t *testing.T) {
	kp, _ := testKeys(t)
	existing, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, nil, target(sealing.Strict), map[string][]byte{"a": []byte("TEST-A")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*sealing.Target)
		want string
	}{
		{"namespace", func(tg *sealing.Target) { tg.Namespace = "invenio-test" },
			"the SealedSecret is sealed for invenio-dev/invenio-app (strict), but the manifests now read invenio-test/invenio-app (strict): its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it"},
		{"name", func(tg *sealing.Target) { tg.Name = "dev-invenio-app" },
			"the SealedSecret is sealed for invenio-dev/invenio-app (strict), but the manifests now read invenio-dev/dev-invenio-app (strict): its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it"},
		{"scope", func(tg *sealing.Target) { tg.Scope = sealing.NamespaceWide },
			"the SealedSecret is sealed for invenio-dev/invenio-app (strict), but the manifests now read invenio-dev/invenio-app (namespace-wide): its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it"},
		{"bad scope", func(tg *sealing.Target) { tg.Scope = "everywhere" },
			`"everywhere" is not a sealing scope: use strict, namespace-wide or cluster-wide`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := target(sealing.Strict)
			tc.edit(&tg)
			_, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, existing, tg, map[string][]byte{"b": []byte("TEST-B")})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Seal:\n got %v\nwant %s", err, tc.want)
			}
			_, err = sealing.Merge(existing, tg, map[string]string{"b": "AAAA"})
			if err == nil || err.Error() != tc.want {
				t.Errorf("Merge:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestSealRefusesBadInput(t *testing.T) {
	kp, _ := testKeys(t)
	for _, tc := range []struct {
		name   string
		values map[string][]byte
		want   string
	}{
		{"key with a space", map[string][]byte{"sp key": []byte("x")},
			`"sp key" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"key with a slash", map[string][]byte{"a/b": []byte("x")},
			`"a/b" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"dot-dot key", map[string][]byte{"..": []byte("x")}, `".." is not a valid Secret key: must not be '..'`},
		{"empty value", map[string][]byte{"a": nil}, "invenio-app/a: the value is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, nil, target(sealing.Strict), tc.values)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseCertificate(t *testing.T) {
	kp, _ := testKeys(t)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	year := 365 * 24 * time.Hour
	controllers := sealingtest.NewKeyPair(t, now.Add(-time.Hour), now.Add(year))
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(kp.Key)})
	for _, tc := range []struct {
		name string
		pem  []byte
		want string // "" : valid
		key  *rsa.PublicKey
	}{
		{"valid", sealingtest.CertPEM(t, &kp.Key.PublicKey, kp.Key, now.Add(-time.Hour), now.Add(year)), "", &kp.Key.PublicKey},
		{"controller's form", controllers.CertPEM, "", &controllers.Key.PublicKey},
		{"controller's form, two certificates", append(controllers.CertPEM, kp.CertPEM...), "", &controllers.Key.PublicKey},
		{"empty", nil, "not a PEM file: expected a -----BEGIN CERTIFICATE----- block", nil},
		{"not PEM", []byte("hello\n"), "not a PEM file: expected a -----BEGIN CERTIFICATE----- block", nil},
		{"private key", keyPEM, "the PEM block is \"RSA PRIVATE KEY\", not CERTIFICATE: sealing needs the controller's public certificate", nil},
		{"garbage", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("nope")}), "not an X.509 certificate: x509: malformed certificate", nil},
		{"ECDSA", sealingtest.CertPEM(t, &ec.PublicKey, ec, now.Add(-time.Hour), now.Add(year)), "the certificate's key is ECDSA, not RSA: sealed-secrets seals with RSA-OAEP", nil},
		{"small RSA", sealingtest.CertPEM(t, &small.PublicKey, small, now.Add(-time.Hour), now.Add(year)), "the certificate's RSA key has 1024 bits, fewer than 2048", nil},
		{"expired", sealingtest.CertPEM(t, &kp.Key.PublicKey, kp.Key, now.Add(-2*year), now.Add(-year)), "the certificate expired on 2025-11-23T12:00:00Z", nil},
		{"not yet valid", sealingtest.CertPEM(t, &kp.Key.PublicKey, kp.Key, now.Add(time.Hour), now.Add(year)), "the certificate is not valid before 2026-11-23T13:00:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := sealing.ParseCertificate(tc.pem, now)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !pub.Equal(tc.key) {
					t.Error("another key")
				}
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestRandom(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range []int{32, 64, 1000} {
		s, err := sealing.Random(rand.Reader, n)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != n {
			t.Errorf("length %d, want %d", len(s), n)
		}
		if strings.Trim(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("%q has characters outside [0-9A-Za-z]", s)
		}
		if seen[s] {
			t.Error("repeated value")
		}
		seen[s] = true
	}
	// Bytes 248..255 are skipped (no modulo bias): 0xff×n then 0x00….
	in := append(bytes.Repeat([]byte{0xff, 0xf8}, 40), bytes.Repeat([]byte{0, 61, 62, 247}, 40)...)
	s, err := sealing.Random(bytes.NewReader(in), 8)
	if err != nil {
		t.Fatal(err)
	}
	if s != "0z0z0z0z" {
		t.Errorf("got %q, want 0z0z0z0z (0→'0', 61→'z', 62→'0', 247→'z')", s)
	}
	if _, err := sealing.Random(iotest.ErrReader(errors.New("boom")), 8); err == nil || err.Error() != "reading randomness: boom" {
		t.Errorf("got %v", err)
	}
}

// TestFileForm: the file form is deterministic (golden), has no status or
// creationTimestamp, and reads back to the same object.
func TestFileForm(t *testing.T) {
	ss, err := sealing.Merge(nil, target(sealing.NamespaceWide), map[string]string{"secret-key": "AAAA", "csrf-secret-salt": "BBBB"})
	if err != nil {
		t.Fatal(err)
	}
	ss.Status = &ssv1alpha1.SealedSecretStatus{ObservedGeneration: 3}
	b, err := sealing.Marshal(ss)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/sealedsecret.golden.yaml", b)
	for _, bad := range []string{"status", "creationTimestamp", "null"} {
		if bytes.Contains(b, []byte(bad)) {
			t.Errorf("the file has %q", bad)
		}
	}
	back, err := sealing.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	ss.Status = nil
	if diff := cmp.Diff(ss, back); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
	k, err := sealing.Kustomization([]string{"invenio-redis.yaml", "invenio-app.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/kustomization.golden.yaml", k)
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestUnmarshalIsStrict(t *testing.T) {
	good := `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: invenio-app
  namespace: invenio-dev
spec:
  encryptedData:
    secret-key: AAAA
  template:
    metadata:
      name: invenio-app
      namespace: invenio-dev
`
	if _, err := sealing.Unmarshal([]byte(good)); err != nil {
		t.Fatalf("a good file: %v", err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "  encryptedData:", "  encrytedData:\n    x: AAAA\n  encryptedData:", `error unmarshaling JSON: while decoding JSON: json: unknown field "encrytedData"`},
		{"duplicate field", "  namespace: invenio-dev\nspec:", "  namespace: invenio-dev\n  namespace: invenio-prod\nspec:", `error converting YAML to JSON: yaml: unmarshal errors:
  line 6: key "namespace" already set in map`},
		{"two documents", "kind: SealedSecret\n", "kind: SealedSecret\n---\nkind: Secret\n", "holds 2 YAML documents, not one SealedSecret"},
		{"a Secret", "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret", "apiVersion: v1\nkind: Secret", "is v1 Secret, not bitnami.com/v1alpha1 SealedSecret"},
		{"no namespace", "  namespace: invenio-dev\nspec:", "spec:", "the SealedSecret needs metadata.name and metadata.namespace"},
		{"deprecated data", "spec:\n", "spec:\n  data: AAAA\n", "uses the deprecated spec.data form: re-seal it"},
		{"number", "secret-key: AAAA", "secret-key: 12", "spec.encryptedData.secret-key is not a string"},
		{"not base64", "secret-key: AAAA", "secret-key: not*base64", "spec.encryptedData.secret-key is not base64 ciphertext"},
		{"bad key", "secret-key: AAAA", "secret key: AAAA", `spec.encryptedData: "secret key" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{"not YAML", good, "\t- [", "yaml: found character that cannot start any token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(good, tc.old, tc.new, 1)
			if in == good {
				t.Fatal("the case changes nothing")
			}
			_, err := sealing.Unmarshal([]byte(in))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestDir: a directory written with WriteDir reads back the same; bad
// files are named; a failed write leaves the directory as it was.
func TestDir(t *testing.T) {
	kp, _ := testKeys(t)
	dir := filepath.Join(t.TempDir(), "secrets", "dev")
	app, _ := sealing.Merge(nil, target(sealing.Strict), map[string]string{"secret-key": "AAAA"})
	redis, _ := sealing.Merge(nil, sealing.Target{Name: "invenio-redis", Namespace: "invenio-dev"}, map[string]string{"password": "BBBB"})
	d := sealing.Dir{Cert: kp.CertPEM, Sealed: map[string]*ssv1alpha1.SealedSecret{"invenio-app": app, "invenio-redis": redis}}
	files, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	written, err := sealing.WriteDir(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"invenio-app.yaml", "invenio-redis.yaml", "kustomization.yaml", "sealing-cert.pem"}, written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := sealing.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, back); diff != "" {
		t.Errorf("read back (-written +read):\n%s", diff)
	}
	// Nothing changed: nothing written.
	if written, err := sealing.WriteDir(dir, files); err != nil || len(written) != 0 {
		t.Errorf("rewriting the same files: wrote %v, %v", written, err)
	}
	// A SealedSecret dropped: its file removed with the list rewritten; a
	// file named to remove that is not there is no error; one both
	// written and removed is refused.
	delete(d.Sealed, "invenio-redis")
	fewer, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	if written, err := sealing.WriteDir(dir, fewer, "invenio-redis.yaml", "invenio-gone.yaml"); err != nil || !slices.Equal(written, []string{"kustomization.yaml"}) {
		t.Errorf("removing a file: wrote %v, %v", written, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "invenio-redis.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("invenio-redis.yaml not removed: %v", err)
	}
	if _, err := sealing.WriteDir(dir, fewer, "kustomization.yaml"); err == nil || err.Error() != "kustomization.yaml is both written and removed" {
		t.Errorf("a file written and removed: %v", err)
	}
	if _, err := sealing.WriteDir(dir, files); err != nil { // as it was
		t.Fatal(err)
	}
	d.Sealed["invenio-redis"] = redis
	// A missing directory is empty.
	if empty, err := sealing.ReadDir(filepath.Join(dir, "nope")); err != nil || len(empty.Sealed) != 0 || empty.Cert != nil {
		t.Errorf("missing directory: %v, %v", empty, err)
	}

	// A failed write changes nothing: the second file cannot be written.
	before := readAll(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "invenio-zz.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	files["invenio-app.yaml"] = []byte("changed\n")
	files["invenio-zz.yaml"] = []byte("x\n")
	if _, err := sealing.WriteDir(dir, files); err == nil || err.Error() != filepath.Join(dir, "invenio-zz.yaml")+" is not a regular file" {
		t.Errorf("got %v", err)
	}
	os.Remove(filepath.Join(dir, "invenio-zz.yaml"))
	if diff := cmp.Diff(before, readAll(t, dir)); diff != "" {
		t.Errorf("a failed write changed the directory (-before +after):\n%s", diff)
	}

	// A file named after another Secret than it holds.
	b, _ := sealing.Marshal(redis)
	if err := os.WriteFile(filepath.Join(dir, "invenio-cache.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = sealing.ReadDir(dir)
	want := filepath.Join(dir, "invenio-cache.yaml") + `: holds the SealedSecret "invenio-redis"; the file of a SealedSecret is named after it (invenio-redis.yaml)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "invenio-cache.yaml"), []byte("kind: Secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = sealing.ReadDir(dir)
	want = filepath.Join(dir, "invenio-cache.yaml") + `: is  Secret, not bitnami.com/v1alpha1 SealedSecret`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

func TestCheck(t *testing.T) {
	app := target(sealing.Strict)
	redis := sealing.Target{Name: "invenio-redis", Namespace: "invenio-dev"}
	saml := sealing.Target{Name: "invenio-saml", Namespace: "invenio-dev", Scope: sealing.NamespaceWide}
	required := []sealing.Key{
		{Target: app, Key: "secret-key", Length: 64},
		{Target: app, Key: "csrf-secret-salt", Length: 64},
		{Target: redis, Key: "password", Length: 32},
		{Target: saml, Key: "sp.key"},
	}
	sealedApp, _ := sealing.Merge(nil, app, map[string]string{"secret-key": "AAAA", "old-salt": "BBBB"})
	// Sealed for another namespace: as good as missing.
	wrongRedis, _ := sealing.Merge(nil, sealing.Target{Name: "invenio-redis", Namespace: "invenio-test"}, map[string]string{"password": "CCCC"})
	sealed := map[string]*ssv1alpha1.SealedSecret{"invenio-app": sealedApp, "invenio-redis": wrongRedis}
	r := sealing.Check(required, sealed)
	want := sealing.Report{
		Sealed:       []sealing.Key{required[0]},
		Missing:      []sealing.Key{required[1], required[2], required[3]},
		Misplaced:    []string{"invenio-redis.yaml: the SealedSecret is sealed for invenio-test/invenio-redis (strict), but the manifests now read invenio-dev/invenio-redis (strict): its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it"},
		Unreferenced: []string{"invenio-app/old-salt"},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	wantErr := "not sealed: invenio-app/csrf-secret-salt, invenio-redis/password, invenio-saml/sp.key; " + want.Misplaced[0]
	if err := r.Err(); err == nil || err.Error() != wantErr {
		t.Errorf("Err:\n got %v\nwant %s", err, wantErr)
	}
	if r := sealing.Check(required[:1], sealed); !r.OK() || r.Err() != nil {
		t.Errorf("all sealed: %+v", r)
	}
}
