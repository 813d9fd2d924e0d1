package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
	"lbl.gov/invenio-gitops/generator/tree"
)

var (
	secKeysOnce sync.Once
	secKeyA     sealingtest.KeyPair // the controller's key
	secKeyB     sealingtest.KeyPair // its renewed key
)

func secKeyPairs(t *testing.T) (sealingtest.KeyPair, sealingtest.KeyPair) {
	secKeysOnce.Do(func() {
		secKeyA = sealingtest.ValidKeyPair(t)
		secKeyB = sealingtest.ValidKeyPair(t)
	})
	return secKeyA, secKeyB
}

// secRepo is a repository holding the project's description and, for
// each env given, the certificate of key a in secrets/<env>/.
func secRepo(t *testing.T, kp sealingtest.KeyPair, envs ...string) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		secWriteCert(t, dir, env, kp.CertPEM)
	}
	return dir
}

func secWriteCert(t *testing.T, dir, env string, pem []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "secrets", env), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", env, "sealing-cert.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
}

// secRun runs `platformctl secrets args… -f <dir>/platform.yaml -C <dir>`.
func secRun(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(args, "-f", filepath.Join(dir, "platform.yaml"), "-C", dir)
	err := runSecrets(args, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String() + stderr.String(), err
}

func secMust(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	out, err := secRun(t, dir, stdin, args...)
	if err != nil {
		t.Fatalf("secrets %v: %v\n%s", args, err, out)
	}
	return out
}

// secUnseal decrypts every SealedSecret of secrets/<env> with sealed-secrets'
// own code: "<secret>/<key>" → value.
func secUnseal(t *testing.T, dir, env string, keys ...sealingtest.KeyPair) map[string]string {
	t.Helper()
	d, err := sealing.ReadDir(filepath.Join(dir, "secrets", env))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, ss := range d.Sealed {
		secret, err := sealingtest.Unseal(t, ss, keys...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for k, v := range secret.Data {
			out[name+"/"+k] = string(v)
		}
	}
	return out
}

func secSealed(t *testing.T, dir, env string) map[string]*ssv1alpha1.SealedSecret {
	t.Helper()
	d, err := sealing.ReadDir(filepath.Join(dir, "secrets", env))
	if err != nil {
		t.Fatal(err)
	}
	return d.Sealed
}

// secNoPlaintext fails if any value appears in any file below dir or in
// any output.
func secNoPlaintext(t *testing.T, dir string, values map[string]string, outputs ...string) {
	t.Helper()
	files := snapshot(t, dir)
	for k, v := range values {
		if len(v) < 8 {
			t.Fatalf("%s: value %q too short to search for", k, v)
		}
		for f, content := range files {
			if strings.Contains(content, v) {
				t.Errorf("%s holds the plaintext of %s", f, k)
			}
		}
		for _, o := range outputs {
			if strings.Contains(o, v) {
				t.Errorf("the output shows the plaintext of %s", k)
			}
		}
	}
}

var base62 = regexp.MustCompile(`^[0-9A-Za-z]+$`)

// TestSecretsInitIsIdempotent: init seals a random value for every
// generated key, says what it did without showing a value, and a second
// run creates nothing and changes no byte.
func TestSecretsInitIsIdempotent(t *testing.T) {
	kp, _ := secKeyPairs(t)
	dir := secRepo(t, kp, "dev")
	out := secMust(t, dir, "", "init", "dev")
	want := `wrote secrets/dev/invenio-app.yaml
wrote secrets/dev/invenio-backup.yaml
wrote secrets/dev/invenio-pgadmin.yaml
wrote secrets/dev/invenio-postgresql.yaml
wrote secrets/dev/invenio-rabbitmq.yaml
wrote secrets/dev/invenio-redis.yaml
wrote secrets/dev/kustomization.yaml
sealed invenio-app/csrf-secret-salt: 64 random characters
sealed invenio-app/secret-key: 64 random characters
sealed invenio-app/security-change-salt: 64 random characters
sealed invenio-app/security-confirm-salt: 64 random characters
sealed invenio-app/security-login-salt: 64 random characters
sealed invenio-app/security-password-salt: 64 random characters
sealed invenio-app/security-remember-salt: 64 random characters
sealed invenio-app/security-reset-salt: 64 random characters
sealed invenio-backup/restic-password: 64 random characters
sealed invenio-pgadmin/password: 32 random characters
sealed invenio-postgresql/password: 32 random characters
sealed invenio-rabbitmq/password: 32 random characters
sealed invenio-redis/password: 32 random characters
dev: 13 keys sealed now, 0 were sealed already, 0 to supply
`
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	values := secUnseal(t, dir, "dev", kp)
	if len(values) != 13 {
		t.Errorf("%d values sealed, want 13", len(values))
	}
	seen := map[string]bool{}
	for k, v := range values {
		wantLen := 32
		if strings.HasPrefix(k, "invenio-app/") || k == "invenio-backup/restic-password" {
			wantLen = 64
		}
		if len(v) != wantLen || !base62.MatchString(v) {
			t.Errorf("%s: %d characters %s, want %d of [0-9A-Za-z]", k, len(v), v[:4]+"…", wantLen)
		}
		if seen[v] {
			t.Errorf("%s: a repeated value", k)
		}
		seen[v] = true
	}
	secNoPlaintext(t, dir, values, out)

	// The kustomization lists every SealedSecret, and the files are
	// strict SealedSecrets (ReadDir above) with the platform's labels.
	k, err := os.ReadFile(filepath.Join(dir, "secrets", "dev", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"invenio-app.yaml", "invenio-backup.yaml", "invenio-pgadmin.yaml", "invenio-postgresql.yaml", "invenio-rabbitmq.yaml", "invenio-redis.yaml"} {
		if !strings.Contains(string(k), "- "+f+"\n") {
			t.Errorf("kustomization.yaml does not list %s:\n%s", f, k)
		}
	}
	app := secSealed(t, dir, "dev")["invenio-app"]
	if app.Namespace != "invenio-dev" || app.Spec.Template.Labels["app.kubernetes.io/instance"] != "lbnl-data-repository" || app.Spec.Template.Labels["app.kubernetes.io/managed-by"] != "invenio-gitops" {
		t.Errorf("invenio-app: namespace %s, template labels %v", app.Namespace, app.Spec.Template.Labels)
	}

	before := snapshot(t, dir)
	out = secMust(t, dir, "", "init", "dev")
	if want := "dev: 0 keys sealed now, 13 were sealed already, 0 to supply\n"; out != want {
		t.Errorf("second init:\n%s\nwant\n%s", out, want)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("a second init changed the repository (-before +after):\n%s", diff)
	}
}

// TestSecretsProdWorkflow: prod needs the SAML key pair from the
// operator: init says so, check names the missing keys and fails, set
// seals them (from a file and from stdin) without touching other
// ciphertexts, and check passes.
func TestSecretsProdWorkflow(t *testing.T) {
	kp, _ := secKeyPairs(t)
	dir := secRepo(t, kp, "prod")
	out := secMust(t, dir, "", "init", "prod")
	for _, line := range []string{
		"to supply: invenio-saml/sp.crt (platformctl secrets set prod invenio-saml/sp.crt --from-file <file>)\n",
		"to supply: invenio-saml/sp.key (platformctl secrets set prod invenio-saml/sp.key --from-file <file>)\n",
		"to supply: invenio-backup/s3-access-key-id (platformctl secrets set prod invenio-backup/s3-access-key-id --from-file <file>)\n",
		"prod: 12 keys sealed now, 0 were sealed already, 4 to supply\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("init output lacks %q:\n%s", line, out)
		}
	}
	out, err := secRun(t, dir, "", "check", "prod")
	if err == nil || err.Error() != "secrets check failed: prod: not sealed: invenio-backup/s3-access-key-id, invenio-backup/s3-secret-access-key, invenio-saml/sp.crt, invenio-saml/sp.key" {
		t.Errorf("check: %v", err)
	}
	if got := exitStatus(err); got != 1 {
		t.Errorf("check finding keys not sealed: exit status %d, want 1", got)
	}
	for _, re := range []string{
		`(?m)^prod \(namespace invenio-prod\): 12 of 16 keys sealed; sealing key SHA256:\S+, certificate valid until \d{4}-\d\d-\d\d$`,
		`(?m)^  MISSING +invenio-saml/sp\.key +operator +platformctl secrets set prod invenio-saml/sp\.key --from-file <file>$`,
		`(?m)^  sealed +invenio-redis/password +generated$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("check output does not match %s:\n%s", re, out)
		}
	}

	spKey := "-----BEGIN PRIVATE KEY-----\nTEST-PLAINTEXT-SAML-SP-KEY\n-----END PRIVATE KEY-----\n"
	keyFile := filepath.Join(t.TempDir(), "sp.key")
	if err := os.WriteFile(keyFile, []byte(spKey), 0o600); err != nil {
		t.Fatal(err)
	}
	out1 := secMust(t, dir, "", "set", "prod", "invenio-saml/sp.key", "--from-file", keyFile)
	first := secSealed(t, dir, "prod")["invenio-saml"].Spec.EncryptedData["sp.key"]
	spCrt := "-----BEGIN CERTIFICATE-----\nTEST-PLAINTEXT-SAML-SP-CRT\n-----END CERTIFICATE-----\n"
	out2 := secMust(t, dir, spCrt, "set", "prod", "invenio-saml/sp.crt")
	if want := "wrote secrets/prod/invenio-saml.yaml\nwrote secrets/prod/kustomization.yaml\nsealed invenio-saml/sp.key; the other keys' ciphertexts are unchanged\n"; out1 != want {
		t.Errorf("set:\n%s\nwant\n%s", out1, want)
	}
	if got := secSealed(t, dir, "prod")["invenio-saml"].Spec.EncryptedData["sp.key"]; got != first {
		t.Error("setting sp.crt changed the ciphertext of sp.key")
	}
	values := secUnseal(t, dir, "prod", kp)
	if values["invenio-saml/sp.key"] != spKey || values["invenio-saml/sp.crt"] != spCrt {
		t.Errorf("SAML values unsealed as %q, %q (multi-line values are kept exactly)", values["invenio-saml/sp.key"], values["invenio-saml/sp.crt"])
	}
	// The bucket's access key: from the object store, through stdin.
	secMust(t, dir, "TEST-PLAINTEXT-S3-KEY-ID", "set", "prod", "invenio-backup/s3-access-key-id")
	secMust(t, dir, "TEST-PLAINTEXT-S3-SECRET", "set", "prod", "invenio-backup/s3-secret-access-key")
	out, err = secRun(t, dir, "", "check")
	if err == nil || !strings.HasPrefix(err.Error(), "secrets check failed: dev: not sealed: invenio-app/csrf-secret-salt") || strings.Contains(err.Error(), "prod:") {
		t.Errorf("check of every environment: %v", err)
	}
	out3 := secMust(t, dir, "", "check", "prod")
	if !strings.Contains(out3, "prod (namespace invenio-prod): 16 of 16 keys sealed") {
		t.Errorf("check:\n%s", out3)
	}
	secNoPlaintext(t, dir, map[string]string{"sp.key": "TEST-PLAINTEXT-SAML-SP-KEY", "sp.crt": "TEST-PLAINTEXT-SAML-SP-CRT"}, out, out1, out2, out3)
	secNoPlaintext(t, dir, values, out, out1, out2, out3)
}

// TestSecretsRotate: a generated key gets a new random value, a supplied
// key a value from stdin; every other ciphertext stays byte-identical, so
// the pull request shows one changed line.
func TestSecretsRotate(t *testing.T) {
	kp, _ := secKeyPairs(t)
	dir := secRepo(t, kp, "prod")
	secMust(t, dir, "", "init", "prod")
	secMust(t, dir, "TEST-PLAINTEXT-KEY-1\n-\n", "set", "prod", "invenio-saml/sp.key")
	secMust(t, dir, "TEST-PLAINTEXT-CRT-1\n-\n", "set", "prod", "invenio-saml/sp.crt")
	before := snapshot(t, dir)
	old := secUnseal(t, dir, "prod", kp)

	out := secMust(t, dir, "", "rotate", "prod", "invenio-postgresql/password")
	want := "wrote secrets/prod/invenio-postgresql.yaml\n" +
		"rotated invenio-postgresql/password: a new random value (32 characters) sealed; the other keys' ciphertexts are unchanged\n" +
		"after the commit reaches the cluster: the postgresql pod applies the sealed password with ALTER ROLE at every start; the application pods restart with it\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	after := snapshot(t, dir)
	changed := secChangedFiles(before, after)
	if diff := cmp.Diff([]string{"secrets/prod/invenio-postgresql.yaml"}, changed); diff != "" {
		t.Errorf("changed files (-want +got):\n%s", diff)
	}
	f := "secrets/prod/invenio-postgresql.yaml"
	if d := secLineDiff(before[f], after[f]); len(d) != 2 || !strings.HasPrefix(d[0], "-     password: ") || !strings.HasPrefix(d[1], "+     password: ") {
		t.Errorf("the rotation changed more than the password's line:\n%s", strings.Join(d, "\n"))
	}
	now := secUnseal(t, dir, "prod", kp)
	if now["invenio-postgresql/password"] == old["invenio-postgresql/password"] || len(now["invenio-postgresql/password"]) != 32 {
		t.Error("the password did not change")
	}
	delete(now, "invenio-postgresql/password")
	delete(old, "invenio-postgresql/password")
	if diff := cmp.Diff(old, now); diff != "" {
		t.Errorf("other values changed (-before +after):\n%s", diff)
	}

	// An operator-supplied key takes its new value from stdin.
	out = secMust(t, dir, "TEST-PLAINTEXT-KEY-2\n-\n", "rotate", "prod", "invenio-saml/sp.key")
	if !strings.Contains(out, "rotated invenio-saml/sp.key: a new value sealed;") || !strings.Contains(out, "give the IdP the new SP metadata (https://invenio.lbl.gov/saml/metadata/lbl)") {
		t.Errorf("output:\n%s", out)
	}
	if got := secUnseal(t, dir, "prod", kp)["invenio-saml/sp.key"]; got != "TEST-PLAINTEXT-KEY-2\n-\n" {
		t.Errorf("sp.key is %q", got)
	}
	// An operator may choose a generated key's value: one line on stdin
	// loses its newline.
	out = secMust(t, dir, "TESTPLAINTEXTchosen42\n", "set", "prod", "invenio-redis/password")
	if want := "sealed a new value of invenio-redis/password; the other keys' ciphertexts are unchanged\n" +
		"after the commit reaches the cluster: redis takes requirepass from the Secret at every start; it and the application pods restart with it\n"; !strings.HasSuffix(out, want) {
		t.Errorf("output:\n%s", out)
	}
	if got := secUnseal(t, dir, "prod", kp)["invenio-redis/password"]; got != "TESTPLAINTEXTchosen42" {
		t.Errorf("redis password is %q", got)
	}
	// The application secret key: the note tells how to migrate.
	out = secMust(t, dir, "", "rotate", "prod", "invenio-app/secret-key")
	if !strings.Contains(out, "invenio instance migrate-secret-key --old-key") {
		t.Errorf("output:\n%s", out)
	}
}

func secChangedFiles(a, b map[string]string) []string {
	var out []string
	for f, v := range b {
		if strings.Contains(v, "\n") && a[f] != v { // files; directories have no content line
			out = append(out, f)
		}
	}
	for f := range a {
		if _, ok := b[f]; !ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// secLineDiff is sealingtest.LineDiff of two snapshot entries, without
// their first line (mode and time).
func secLineDiff(a, b string) []string {
	_, a, _ = strings.Cut(a, "\n")
	_, b, _ = strings.Cut(b, "\n")
	return sealingtest.LineDiff(a, b)
}

// TestSecretsBadInput: each mistake gets its message, and nothing in the
// repository changes.
func TestSecretsBadInput(t *testing.T) {
	kp, _ := secKeyPairs(t)
	now := time.Now()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	expiredAt := now.Add(-24 * time.Hour).Truncate(time.Second)
	expired := sealingtest.CertPEM(t, &kp.Key.PublicKey, kp.Key, expiredAt.Add(-24*time.Hour), expiredAt)
	ecCert := sealingtest.CertPEM(t, &ec.PublicKey, ec, now.Add(-time.Hour), now.Add(time.Hour))
	emptyFile := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(emptyFile, nil, 0o600)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		stdin string
		args  []string
		want  string
	}{
		{name: "no certificate", args: []string{"init", "test"},
			want: "no sealing certificate for environment test: secrets/test/sealing-cert.pem does not exist; fetch it with `platformctl secrets fetch-cert test`"},
		{name: "no certificate for set", stdin: "TEST-PLAINTEXT-xyz", args: []string{"set", "test", "invenio-redis/password"},
			want: "no sealing certificate for environment test: secrets/test/sealing-cert.pem does not exist; fetch it with `platformctl secrets fetch-cert test`"},
		{name: "expired certificate", setup: func(t *testing.T, dir string) { secWriteCert(t, dir, "test", expired) }, args: []string{"init", "test"},
			want: "secrets/test/sealing-cert.pem: the certificate expired on " + expiredAt.UTC().Format(time.RFC3339) + "; fetch the controller's current certificate with `platformctl secrets fetch-cert test`"},
		{name: "ECDSA certificate", setup: func(t *testing.T, dir string) { secWriteCert(t, dir, "test", ecCert) }, args: []string{"init", "test"},
			want: "secrets/test/sealing-cert.pem: the certificate's key is ECDSA, not RSA: sealed-secrets seals with RSA-OAEP; fetch the controller's current certificate with `platformctl secrets fetch-cert test`"},
		{name: "a private key as certificate", setup: func(t *testing.T, dir string) {
			secWriteCert(t, dir, "test", []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
		}, args: []string{"init", "test"},
			want: "secrets/test/sealing-cert.pem: the PEM block is \"RSA PRIVATE KEY\", not CERTIFICATE: sealing needs the controller's public certificate; fetch the controller's current certificate with `platformctl secrets fetch-cert test`"},
		{name: "invalid key name", stdin: "TEST-PLAINTEXT-xyz", args: []string{"set", "dev", "invenio-saml/sp key"},
			want: `"sp key" is not a valid Secret key: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
		{name: "no key", stdin: "TEST-PLAINTEXT-xyz", args: []string{"set", "dev", "invenio-redis"},
			want: `"invenio-redis" is not <secret>/<key>, e.g. invenio-saml/sp.key`},
		{name: "unknown secret", stdin: "TEST-PLAINTEXT-xyz", args: []string{"set", "dev", "invenio-saml/sp.key"},
			want: `no manifest of environment dev reads a Secret "invenio-saml": its Secrets are [invenio-app invenio-backup invenio-pgadmin invenio-postgresql invenio-rabbitmq invenio-redis]`},
		{name: "unknown key", stdin: "TEST-PLAINTEXT-xyz", args: []string{"set", "dev", "invenio-redis/passwd"},
			want: `no manifest of environment dev reads key "passwd" of Secret invenio-redis: its keys are [password]`},
		{name: "a password with URL characters", stdin: "TEST-PLAINTEXT@x/y\n", args: []string{"set", "dev", "invenio-redis/password"},
			want: "the value of invenio-redis/password may hold only letters and digits: the platform puts it into URLs and commands (`platformctl secrets rotate dev invenio-redis/password` makes a random one)"},
		{name: "empty stdin", args: []string{"set", "dev", "invenio-redis/password"},
			want: "no value for invenio-redis/password: stdin is empty; pipe the value in or use --from-file"},
		{name: "only a newline on stdin", stdin: "\n", args: []string{"set", "dev", "invenio-redis/password"},
			want: "no value for invenio-redis/password: stdin is empty; pipe the value in or use --from-file"},
		{name: "empty file", args: []string{"set", "dev", "invenio-redis/password", "--from-file", emptyFile},
			want: emptyFile + " is empty: no value for invenio-redis/password"},
		{name: "missing file", args: []string{"set", "dev", "invenio-redis/password", "--from-file", emptyFile + ".nope"},
			want: "--from-file " + emptyFile + ".nope: no such file or directory"},
		{name: "relative file read from -C", args: []string{"set", "dev", "invenio-redis/password", "--from-file", "value.txt"},
			want: "--from-file <dir>/value.txt: no such file or directory"},
		{name: "a linked secrets directory", setup: func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, "secrets/dev"), filepath.Join(dir, "elsewhere")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../elsewhere", filepath.Join(dir, "secrets/dev")); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"init", "dev"},
			want: "<dir>/secrets/dev is a symbolic link (to ../elsewhere): nothing is written through a link, so that every write stays inside the repository; remove the link (rm <dir>/secrets/dev) and run the command again"},
		{name: "another command writing", setup: func(t *testing.T, dir string) {
			release, err := tree.Lock(dir, tree.Holder{Command: "generate", PID: 4242, Host: "lab-ws", Since: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(release)
			wait := lockWait
			lockWait = 0
			t.Cleanup(func() { lockWait = wait })
		}, args: []string{"init", "dev"},
			want: "<dir> is being written by platformctl generate (pid 4242 on lab-ws, since 2026-12-01T10:00:00Z); waited 0s: run the command again when it has finished (its lock, <dir>/.platformctl.lock, is released when that process ends)"},
		{name: "unknown environment", args: []string{"init", "staging"},
			want: `no environment "staging" in ` + "<dir>/platform.yaml (it has [dev test prod])"},
		{name: "unknown environment for check", args: []string{"check", "staging"},
			want: `no environment "staging" in ` + "<dir>/platform.yaml (it has [dev test prod])"},
		{name: "rotate before init", args: []string{"rotate", "dev", "invenio-redis/password"},
			want: "invenio-redis/password has no sealed value to rotate yet: seal one with `platformctl secrets init dev`"},
		{name: "rotate a generated key from a file", setup: secInit("dev"), args: []string{"rotate", "dev", "invenio-redis/password", "--from-file", emptyFile},
			want: "invenio-redis/password is generated: rotate seals a new random value; to choose the value use `platformctl secrets set`"},
		{name: "rotate a supplied key before set", setup: secInit("prod"), args: []string{"rotate", "prod", "invenio-saml/sp.key"}, stdin: "TEST-PLAINTEXT-xyz",
			want: "invenio-saml/sp.key has no sealed value to rotate yet: seal one with `platformctl secrets set prod invenio-saml/sp.key`"},
		{name: "sealed for another namespace", setup: func(t *testing.T, dir string) {
			// secrets/dev holds invenio-redis sealed for invenio-test.
			ss, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, nil, sealing.Target{Name: "invenio-redis", Namespace: "invenio-test"}, map[string][]byte{"other": []byte("TEST-PLAINTEXT-xyz")})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := sealing.Marshal(ss)
			os.WriteFile(filepath.Join(dir, "secrets", "dev", "invenio-redis.yaml"), b, 0o644)
		}, args: []string{"init", "dev"},
			want: "secrets/dev/invenio-redis.yaml: the SealedSecret is sealed for invenio-test/invenio-redis (strict), but the manifests now read invenio-dev/invenio-redis (strict): its values are bound to the old name, namespace or scope and cannot be moved; re-seal every key of it"},
		{name: "a broken SealedSecret", setup: func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "secrets", "dev", "invenio-redis.yaml"), []byte("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: invenio-redis, namespace: invenio-dev}\nspec: {encryptedData: {}, extra: 1}\n"), 0o644)
		}, args: []string{"init", "dev"},
			want: `secrets/dev/invenio-redis.yaml: error unmarshaling JSON: while decoding JSON: json: unknown field "extra"`},
		{name: "too many arguments", args: []string{"init", "dev", "prod"},
			want: "secrets init takes <env>, got [\"dev\" \"prod\"]\n" + secretsUsage},
		{name: "unknown command", args: []string{"seal", "dev"},
			want: "unknown command \"secrets seal\"\n" + secretsUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := secRepo(t, kp, "dev", "prod")
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			before := snapshot(t, dir)
			out, err := secRun(t, dir, tc.stdin, tc.args...)
			want := strings.ReplaceAll(tc.want, "<dir>", dir)
			if err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if got := exitStatus(err); got != 2 {
				t.Errorf("exit status %d, want 2", got)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("the repository changed (-before +after):\n%s", diff)
			}
			if strings.Contains(out, "TEST-PLAINTEXT") {
				t.Errorf("the output shows a value:\n%s", out)
			}
		})
	}
}

func secInit(env string) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		secMust(t, dir, "", "init", env)
	}
}

// TestSecretsFetchCertAndReencrypt: fetch-cert and reencrypt reach the
// controller through the API server's service proxy (a fake API server in
// front of a controller that unseals and reseals with sealed-secrets' own
// code); after the controller's key renewal, reencrypt re-seals every value
// with the new key and changes nothing else.
func TestSecretsFetchCertAndReencrypt(t *testing.T) {
	a, b := secKeyPairs(t)
	cluster := sealingtest.NewCluster(t, "kube-system", "sealed-secrets-controller", a)
	kubeconfig := cluster.Kubeconfig(t)
	dir := secRepo(t, a)

	out := secMust(t, dir, "", "fetch-cert", "dev", "--kubeconfig", kubeconfig)
	if !regexp.MustCompile(`^wrote secrets/dev/kustomization.yaml\nwrote secrets/dev/sealing-cert.pem\nfetched the certificate of kube-system/sealed-secrets-controller into secrets/dev/sealing-cert.pem \(key SHA256:\S+, valid until \d{4}-\d\d-\d\d\)\n$`).MatchString(out) {
		t.Errorf("fetch-cert:\n%s", out)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "secrets", "dev", "sealing-cert.pem"))
	if !bytes.Equal(got, a.CertPEM) {
		t.Error("the fetched certificate is not the controller's")
	}
	if out := secMust(t, dir, "", "fetch-cert", "dev", "--kubeconfig", kubeconfig); !strings.HasPrefix(out, "secrets/dev/sealing-cert.pem is up to date") {
		t.Errorf("second fetch-cert:\n%s", out)
	}
	secMust(t, dir, "", "init", "dev")
	values := secUnseal(t, dir, "dev", a)
	sealedBefore := secSealed(t, dir, "dev")

	cluster.Renew(b)
	out = secMust(t, dir, "", "reencrypt", "dev", "--kubeconfig", kubeconfig)
	if !regexp.MustCompile(`(?m)^re-encrypted 6 SealedSecrets of dev with the controller's current key SHA256:\S+; the values are unchanged$`).MatchString(out) ||
		!strings.Contains(out, "wrote secrets/dev/sealing-cert.pem\n") {
		t.Errorf("reencrypt:\n%s", out)
	}
	if diff := cmp.Diff(values, secUnseal(t, dir, "dev", b)); diff != "" {
		t.Errorf("values after re-encryption, with the new key alone (-before +after):\n%s", diff)
	}
	for name, ss := range secSealed(t, dir, "dev") {
		old := sealedBefore[name]
		for k, v := range ss.Spec.EncryptedData {
			if old.Spec.EncryptedData[k] == v {
				t.Errorf("%s/%s was not re-encrypted", name, k)
			}
		}
		ss.Spec.EncryptedData = old.Spec.EncryptedData
		if diff := cmp.Diff(old, ss); diff != "" {
			t.Errorf("%s: re-encryption changed more than encryptedData (-before +after):\n%s", name, diff)
		}
	}
	got, _ = os.ReadFile(filepath.Join(dir, "secrets", "dev", "sealing-cert.pem"))
	if !bytes.Equal(got, b.CertPEM) {
		t.Error("reencrypt did not store the controller's current certificate")
	}
	// The new certificate seals what the new key opens.
	secMust(t, dir, "", "rotate", "dev", "invenio-redis/password")
	secUnseal(t, dir, "dev", b)
	secNoPlaintext(t, dir, values, out)

	// Refused, with nothing written: an expired controller certificate,
	// and a controller that is not where the description says.
	before := snapshot(t, dir)
	expiredAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	cluster.Renew(sealingtest.NewKeyPair(t, expiredAt.Add(-time.Hour), expiredAt))
	for _, args := range [][]string{{"fetch-cert", "dev"}, {"reencrypt", "dev"}} {
		_, err := secRun(t, dir, "", append(args, "--kubeconfig", kubeconfig)...)
		if want := "the controller's certificate: the certificate expired on " + expiredAt.UTC().Format(time.RFC3339); err == nil || err.Error() != want {
			t.Errorf("%v: got %v\nwant %s", args, err, want)
		}
	}
	_, err := secRun(t, dir, "", "fetch-cert", "test", "--kubeconfig", filepath.Join(dir, "nope"))
	if err == nil || !strings.HasPrefix(err.Error(), "kubeconfig: ") {
		t.Errorf("a missing kubeconfig: %v", err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("a refused command changed the repository (-before +after):\n%s", diff)
	}
	want := []string{
		"GET /api/v1/namespaces/kube-system/services/sealed-secrets-controller",
		"GET /api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem",
	}
	if diff := cmp.Diff(want, cluster.Requests()[:2]); diff != "" {
		t.Errorf("first requests (-want +got):\n%s", diff)
	}
}

// TestSecretsWriteIsAllOrNothing: when one file of secrets/<env>/ cannot
// be written (here a legal Secret name too long for a file name), the
// command fails naming it and the directory is as it was: no
// kustomization.yaml listing a file that is not there.
func TestSecretsWriteIsAllOrNothing(t *testing.T) {
	long := strings.Repeat("r", 61) + "." + strings.Repeat("e", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("s", 63)
	for _, c := range []struct {
		name, edit string
		args       []string
		want       string
	}{
		{
			name: "a 253-character Secret name",
			edit: "    namespace: invenio-dev\n    secrets: {redis: " + long + "}\n",
			args: []string{"init", "dev"},
			// Refused by validation now (a Secret name is a label value on
			// its SealedSecret); the write itself is all or nothing
			// (generator/tree TestWriteFailingCommitChangesNothing).
			want: "platform.yaml:37: environments[0].secrets.redis: \"" + long + "\" is 253 characters: the SealedSecret carries it as its app.kubernetes.io/name label, at most 63; shorten it",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			kp, _ := secKeyPairs(t)
			dir := secRepo(t, kp, "dev")
			secMust(t, dir, "", "init", "dev")
			desc := filepath.Join(dir, "platform.yaml")
			b, err := os.ReadFile(desc)
			if err != nil {
				t.Fatal(err)
			}
			edited := strings.Replace(string(b), "    namespace: invenio-dev\n", c.edit, 1)
			if err := os.WriteFile(desc, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			out, err := secRun(t, dir, "", c.args...)
			if err == nil || !strings.HasSuffix(err.Error(), c.want) {
				t.Errorf("secrets %v: error\n%v\nwant\n%s\n(output %q)", c.args, err, c.want, out)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("the repository changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestSharedClusterDifferentCertificates: two environments of one cluster
// sealed with different keys are a warning of generate and of secrets
// check (on standard error; the status is unchanged).
func TestSharedClusterDifferentCertificates(t *testing.T) {
	desc := fixture(t) + "  - name: test\n    cluster: dev\n    namespace: invenio-test\n    host: invenio-test.example.org\n"
	dir := fixtureRepo(t, desc, "dev", "test")
	for _, env := range []string{"dev", "test"} {
		var out bytes.Buffer
		if err := run([]string{"secrets", "init", env, "-C", dir}, &out, &out); err != nil {
			t.Fatalf("secrets init %s: %v\n%s", env, err, out.String())
		}
	}
	const want = "warning: environments dev and test share cluster dev, but their sealing certificates hold different keys"
	for _, args := range [][]string{{"generate", "-C", dir}, {"secrets", "check", "-C", dir}, {"secrets", "check", "test", "-C", dir}} {
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err != nil {
			t.Errorf("%v: %v", args, err)
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("%v: standard error lacks %q:\n%s", args, want, stderr.String())
		}
	}
}

// TestSecretsFindingsNameTheirFix: what secrets check and generate say
// after an environment's namespace changed (its SealedSecrets are bound
// to the old one) or a sealed file was deleted by hand is a command that,
// run as written, fixes it.
func TestSecretsFindingsNameTheirFix(t *testing.T) {
	dir := fixtureRepo(t, fixture(t), "dev")
	desc := filepath.Join(dir, "platform.yaml")
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append(args, "-C", dir), &out, &out)
		return out.String(), err
	}
	if out, err := cli("secrets", "init", "dev"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// The namespace changes: every SealedSecret is bound to the old one.
	b, err := os.ReadFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(desc, []byte(strings.Replace(string(b), "namespace: invenio-dev", "namespace: invenio-lab", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := cli("secrets", "check", "dev")
	if exitStatus(err) != 1 {
		t.Fatalf("check after the namespace changed: status %d, want 1\n%s", exitStatus(err), out)
	}
	fixes := regexp.MustCompile(`rm (secrets/dev/[a-z-]+\.yaml), then platformctl secrets init dev`).FindAllStringSubmatch(out, -1)
	if len(fixes) == 0 || strings.Contains(out, "MISSING") && strings.Count(out, "MISSING") != len(fixes) {
		t.Fatalf("check names %d fixes for %d missing keys:\n%s", len(fixes), strings.Count(out, "MISSING"), out)
	}
	for _, f := range fixes {
		if err := os.Remove(filepath.Join(dir, f[1])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	if out, err := cli("secrets", "init", "dev"); err != nil {
		t.Fatalf("the fix check named: %v\n%s", err, out)
	}
	if out, err := cli("secrets", "check", "dev"); err != nil {
		t.Fatalf("check after its fix: %v\n%s", err, out)
	}

	// A sealed file deleted by hand: generate and build say which, and how
	// to seal it again, instead of kustomize's error.
	if out, err := cli("generate"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, "secrets", "dev", "invenio-app.yaml")); err != nil {
		t.Fatal(err)
	}
	const want = "secrets/dev/kustomization.yaml lists invenio-app.yaml, which is not there (deleted by hand?): `platformctl secrets init dev` seals its generated keys again"
	for _, args := range [][]string{{"generate"}, {"build", "dev"}} {
		if out, err := cli(args...); exitStatus(err) != 2 || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "doesn't exist") {
			t.Errorf("%v with a sealed file deleted: status %d, %v\n%s", args, exitStatus(err), err, out)
		}
	}
	if out, err := cli("secrets", "init", "dev"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := cli("generate"); err != nil {
		t.Fatalf("generate after the fix: %v\n%s", err, out)
	}
}

// TestSwitchedOffPartLeavesNoTrace: pgAdmin switched off in the only
// environment that had it: generate removes its component and warns of
// its sealed password, naming prune; prune --dry-run changes nothing;
// prune removes the key and its file, so nothing of it is deployed.
func TestSwitchedOffPartLeavesNoTrace(t *testing.T) {
	on := inEnv("    workloads: {pgadmin: {enabled: true}}\n")(fixture(t))
	dir := fixtureRepo(t, on, "dev")
	cli := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		err := run(append(args, "-C", dir), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	for _, args := range [][]string{{"secrets", "init", "dev"}, {"generate"}} {
		if out, errOut, err := cli(args...); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "base/components/pgadmin")); err != nil {
		t.Fatalf("pgAdmin on: %v", err)
	}
	off := strings.Replace(on, "pgadmin: {enabled: true}", "pgadmin: {enabled: false}", 1)
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cli("generate")
	if err != nil || !strings.Contains(errOut, "warning: environment dev: invenio-pgadmin/password is sealed but no manifest reads it (`platformctl secrets prune dev` removes it)") {
		t.Errorf("generate with pgAdmin off: %v, stderr:\n%s", err, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "base/components/pgadmin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("base/components/pgadmin left after pgAdmin is off everywhere (%v); generate wrote:\n%s", err, out)
	}
	if out, _, _ := cli("secrets", "check", "dev"); !regexp.MustCompile(`unused +invenio-pgadmin/password +platformctl secrets prune dev `).MatchString(out) {
		t.Errorf("check does not name prune for the unread key:\n%s", out)
	}
	before := snapshot(t, dir)
	if out, _, err := cli("secrets", "prune", "dev", "--dry-run"); err != nil || out != "would prune invenio-pgadmin/password (no manifest reads it)\nwould remove secrets/dev/invenio-pgadmin.yaml\n" {
		t.Errorf("prune --dry-run: %v\n%s", err, out)
	}
	if d := cmp.Diff(before, snapshot(t, dir)); d != "" {
		t.Errorf("prune --dry-run changed the repository:\n%s", d)
	}
	if out, _, err := cli("secrets", "prune", "dev"); err != nil || !strings.Contains(out, "removed secrets/dev/invenio-pgadmin.yaml") {
		t.Errorf("prune: %v\n%s", err, out)
	}
	k, err := os.ReadFile(filepath.Join(dir, "secrets/dev/kustomization.yaml"))
	if err != nil || strings.Contains(string(k), "pgadmin") {
		t.Errorf("secrets/dev/kustomization.yaml still lists pgAdmin's SealedSecret (%v):\n%s", err, k)
	}
	if _, errOut, err := cli("generate"); err != nil || errOut != "" {
		t.Errorf("generate after prune: %v, stderr %q", err, errOut)
	}
	if out, _, err := cli("secrets", "prune", "dev"); err != nil || out != "dev: every sealed key is read; nothing to prune\n" {
		t.Errorf("prune again: %v, %q", err, out)
	}
}
