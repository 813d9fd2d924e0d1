package main

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Every package's tests accept -update, because `make update` runs
// `go test ./... -update`.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

const description = "../../platform.yaml"

// snapshot records every file and directory below dir: content, mode and
// modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		entry := fi.Mode().String() + " " + fi.ModTime().Format(time.RFC3339Nano)
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entry += "\n" + string(b)
		}
		out[filepath.ToSlash(rel)] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func generate(t *testing.T, file, dir string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run([]string{"generate", "-f", file, "-C", dir}, &stdout, &stderr)
	return stdout.String(), err
}

// generated returns a directory holding a tree generated from the
// repository's description, beside a file the generator does not own.
// withSecrets returns a new directory holding a copy of the repository's
// secrets/ (an input of generate: the sealed values and certificates).
func withSecrets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := "../../secrets"
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "secrets", rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func generated(t *testing.T) string {
	t.Helper()
	dir := withSecrets(t)
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not generated\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(t, description, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBadDescriptionChangesNothing: a description that does not load
// leaves the previous tree exactly as it was.
func TestBadDescriptionChangesNothing(t *testing.T) {
	good, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	dir := generated(t)
	for _, c := range []struct{ name, yaml, want string }{
		{"empty", "", "the description is empty"},
		{"unknown field", strings.Replace(string(good), "  name: lbnl-data-repository", "  name: lbnl-data-repository\n  nmae: x", 1), `did you mean "name"`},
		{"bad size", strings.Replace(string(good), "files: 20Gi", "files: 20 GB", 1), `"20 GB" is not a Kubernetes quantity`},
		{"beat replicas", strings.Replace(string(good), "      frontend:\n        replicas: 2", "      beat:\n        replicas: 2", 1), "Celery beat must run exactly one replica"},
		{"duplicate namespace", strings.Replace(string(good), "namespace: invenio-test", "namespace: invenio-dev", 1), `namespace "invenio-dev" is already used`},
		{"two documents", string(good) + "---\nsite: {}\n", "single YAML document"},
		{"saml without idp", strings.Replace(string(good), "        idp: lbl\n", "", 1), "auth.saml.idp: is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.yaml == string(good) {
				t.Fatal("the replacement did not apply")
			}
			bad := filepath.Join(t.TempDir(), "platform.yaml")
			if err := os.WriteFile(bad, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			out, err := generate(t, bad, dir)
			if err == nil {
				t.Fatalf("generate accepted the description; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), bad+":") {
				t.Errorf("error %q, want file:line and %q", err, c.want)
			}
			if out != "" {
				t.Errorf("printed %q on failure", out)
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("directory changed (-before +after):\n%s", diff)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		before := snapshot(t, dir)
		if _, err := generate(t, filepath.Join(dir, "nope.yaml"), dir); err == nil {
			t.Fatal("generate accepted a missing file")
		}
		if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
			t.Errorf("directory changed (-before +after):\n%s", diff)
		}
	})
}

func TestGenerateTwiceIsIdentical(t *testing.T) {
	dir := withSecrets(t)
	out1, err := generate(t, description, dir)
	if err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, dir)
	if len(first) < 10 || !strings.Contains(out1, "files written, 0 removed, 0 unchanged") {
		t.Fatalf("first run wrote %d entries:\n%s", len(first), out1)
	}
	out2, err := generate(t, description, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out2, "0 files written, 0 removed, ") || strings.Count(out2, "\n") != 1 {
		t.Errorf("second run output:\n%s", out2)
	}
	// Same bytes, and (with the mtimes in the snapshot) nothing rewritten.
	if diff := cmp.Diff(first, snapshot(t, dir)); diff != "" {
		t.Errorf("second run changed the tree (-first +second):\n%s", diff)
	}

	var stdout bytes.Buffer
	if err := run([]string{"generate", "-q", "-f", description, "-C", dir}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("-q printed %q with nothing to do", stdout.String())
	}
}

func TestGenerateRemovesStaleFiles(t *testing.T) {
	dir := generated(t)
	stale := []string{"overlays/dev/old-patch.yaml", "overlays/staging/kustomization.yaml", "base/.generate-42"}
	for _, p := range stale {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("stale\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := generate(t, description, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Stat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
		if !strings.Contains(out, "removed "+p+"\n") {
			t.Errorf("output does not report removing %s:\n%s", p, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "overlays/staging")); !os.IsNotExist(err) {
		t.Errorf("empty overlays/staging left behind (%v)", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "README.md")); err != nil || string(b) != "not generated\n" {
		t.Errorf("README.md outside the generated directories changed: %q, %v", b, err)
	}
	if !strings.Contains(out, "0 files written, 3 removed,") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestBuildPrintsManifests(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"build", "dev", "-f", description, "-C", "../.."}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"kind: Deployment", "namespace: invenio-dev", "kind: NetworkPolicy"} {
		if !strings.Contains(out, want) {
			t.Errorf("build dev output lacks %q", want)
		}
	}
	if err := run([]string{"build", "nosuch", "-f", description}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Errorf("build of an unknown environment succeeded")
	}
}

func TestUsage(t *testing.T) {
	if err := run(nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "usage:") {
		t.Errorf("no arguments: %v", err)
	}
	if err := run([]string{"frobnicate"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %v", err)
	}
	if err := run([]string{"build"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Errorf("build without an environment succeeded")
	}
	var stdout bytes.Buffer
	if err := run([]string{"help"}, &stdout, &bytes.Buffer{}); err != nil || !strings.Contains(stdout.String(), "platformctl generate") {
		t.Errorf("help: %v %q", err, stdout.String())
	}
}

// TestLayersPrintsTheGraph: each cluster's layers, each under the one it
// depends on.
func TestLayersPrintsTheGraph(t *testing.T) {
	var stdout bytes.Buffer
	if err := run([]string{"layers", "-f", description}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{
		"cluster prod (clusters/prod,",
		"      └─ prod-namespace",
		"         └─ prod-secrets                        ./secrets/prod\n",
		"               └─ prod-app                      ./overlays/prod/app\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("layers output lacks %q:\n%s", want, out)
		}
	}
}

// TestGenerateNeedsEverySealedKey: a key the manifests read that is not
// sealed makes generate fail, naming it, and nothing is written.
func TestGenerateNeedsEverySealedKey(t *testing.T) {
	dir := generated(t)
	if err := os.Remove(filepath.Join(dir, "secrets/prod/invenio-redis.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "base/app/web-ui.yaml"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)
	_, err := generate(t, description, dir)
	if err == nil || !strings.Contains(err.Error(), "environment prod: not sealed: invenio-redis/password (see `platformctl secrets check prod`)") {
		t.Fatalf("generate: %v", err)
	}
	if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
		t.Errorf("a failed generate changed the tree (-before +after):\n%s", diff)
	}
}

// warnings runs generate with the description good edited (old, which
// must occur once, replaced by new) into dir and returns the lines it
// printed on standard error.
func warnings(t *testing.T, dir, good, old, new string) []string {
	t.Helper()
	if strings.Count(good, old) != 1 {
		t.Fatalf("fixture: %q does not occur once in the description", old)
	}
	file := filepath.Join(t.TempDir(), "platform.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(good, old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"generate", "-f", file, "-C", dir}, &stdout, &stderr); err != nil {
		t.Fatalf("generate: %v\n%s", err, stderr.String())
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestGenerateWarnsOfRefusedChanges: generate compares the tree it writes
// with the one on disk and warns of every change the API server refuses
// on a running cluster — and writes it all the same, with status 0. A
// rename of site.name changes no selector (they name the component
// only), so it is not one of them.
func TestGenerateWarnsOfRefusedChanges(t *testing.T) {
	b, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	const takes = ": the API server refuses it; delete the StatefulSet with --cascade=orphan (pods and claims stay) and Flux creates it anew; existing claims are not changed — docs/immutable-fields.md#statefulset"
	for _, c := range []struct {
		name, old, new string
		want           []string
	}{
		{name: "storage class of the claim templates", old: "      opensearch: 10Gi\n", new: "      opensearch: 10Gi\n      readWriteOnceClass: ceph-ssd\n",
			want: []string{
				"warning: dev: PersistentVolumeClaim invenio-dev/pgadmin-data: spec.storageClassName ceph-rbd → ceph-ssd: the API server refuses it; needs a new volume: copy the data to a new claim or restore it from a backup — docs/immutable-fields.md#persistentvolumeclaim",
				"warning: dev: StatefulSet invenio-dev/opensearch: spec.volumeClaimTemplates[metadata.name=data].spec.storageClassName ceph-rbd → ceph-ssd" + takes,
				"warning: dev: StatefulSet invenio-dev/postgresql: spec.volumeClaimTemplates[metadata.name=data].spec.storageClassName ceph-rbd → ceph-ssd" + takes,
				"warning: dev: StatefulSet invenio-dev/rabbitmq: spec.volumeClaimTemplates[metadata.name=data].spec.storageClassName ceph-rbd → ceph-ssd" + takes,
				"warning: dev: StatefulSet invenio-dev/redis: spec.volumeClaimTemplates[metadata.name=data].spec.storageClassName ceph-rbd → ceph-ssd" + takes,
				"warning: 5 of the changes written are ones the API server refuses: Flux's apply of their layer fails until each is done by hand as it says (`platformctl diff` shows them in context)",
			}},
		{name: "a volume shrinks", old: "      postgresql: 50Gi\n", new: "      postgresql: 40Gi\n",
			want: []string{
				"warning: prod: StatefulSet invenio-prod/postgresql: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 50Gi → 40Gi (shrink)" + takes,
				"warning: 1 of the changes written are ones the API server refuses: Flux's apply of their layer fails until each is done by hand as it says (`platformctl diff` shows them in context)",
			}},
		{name: "site.name renamed", old: "site:\n  name: lbnl-data-repository\n", new: "site:\n  name: data-repository\n"},
		{name: "a release", old: "    tag: v12.0.10-lbnl.1\n", new: "    tag: v12.0.11-lbnl.1\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := generated(t)
			if diff := cmp.Diff(c.want, warnings(t, dir, good, c.old, c.new)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
