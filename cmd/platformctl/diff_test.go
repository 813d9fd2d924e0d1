package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/review"
)

// gitRepo makes a git repository holding the fixture repository
// (internal/testrepo) and the tree generated from it (base/, overlays/,
// secrets/, clusters/) on branch main.
func gitRepo(t *testing.T) string {
	t.Helper()
	dir := generatedRepo(t)
	git(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, "generated tree")
	return dir
}

// redescribe changes the description of the repository in dir (old must
// occur once) and generates the tree again, as an operator does.
func redescribe(t *testing.T, dir, old, new string) {
	t.Helper()
	replaceIn(t, dir, "platform.yaml", old, new)
	if err := run([]string{"generate", "-q", "-C", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func commitAll(t *testing.T, dir, msg string) {
	t.Helper()
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
}

// replaceIn edits a file of the repository at dir.
func replaceIn(t *testing.T, dir, path, old, new string) {
	t.Helper()
	p := filepath.Join(dir, path)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(b), old) != 1 {
		t.Fatalf("fixture: %q does not occur once in %s", old, path)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diff runs `platformctl diff` and returns its output and exit status.
func diff(t *testing.T, args ...string) (string, int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(append([]string{"diff"}, args...), &stdout, &stderr)
	code := 0
	msg := ""
	if err != nil {
		var e *exitError
		if !errors.As(err, &e) {
			t.Fatalf("diff returned %v, not an exit status", err)
		}
		code, msg = e.code, e.Error()
	}
	return stdout.String(), code, msg
}

// TestDiffCommand runs `platformctl diff` on a real git repository: the
// default base (merge base with main), --base, committed and uncommitted
// changes, --exit-code and the error status.
func TestDiffCommand(t *testing.T) {
	dir := gitRepo(t)

	out, code, _ := diff(t, "-C", dir, "--exit-code", "--env", "prod")
	if code != 0 || !strings.Contains(out, "prod: no changes") {
		t.Fatalf("unchanged tree: status %d, output:\n%s", code, out)
	}

	// A change committed on a branch: the default base is main.
	git(t, dir, "checkout", "-q", "-b", "feature")
	redescribe(t, dir, "      frontend:\n        replicas: 2\n        resources:", "      frontend:\n        replicas: 3\n        resources:")
	commitAll(t, dir, "more frontend replicas")
	out, code, _ = diff(t, "-C", dir, "--exit-code", "--env", "prod", "--color", "always")
	if code != 1 {
		t.Errorf("committed change with --exit-code: status %d, want 1", code)
	}
	for _, want := range []string{"merge-base(HEAD, main)", "prod: 0 added, 0 removed, 1 changed (1 flagged)", "replicas 2 → 3", "\x1b["} {
		if !strings.Contains(out, want) {
			t.Errorf("committed change: output lacks %q:\n%s", want, out)
		}
	}
	if out, code, _ := diff(t, "-C", dir, "--env", "prod"); code != 0 || strings.Contains(out, "\x1b[") {
		t.Errorf("without --exit-code: status %d (want 0); colour when not a terminal: %v", code, strings.Contains(out, "\x1b["))
	}
	if out, code, _ := diff(t, "-C", dir, "--exit-code", "--env", "prod", "--base", "HEAD"); code != 0 || !strings.Contains(out, "prod: no changes") {
		t.Errorf("--base HEAD: status %d, output:\n%s", code, out)
	}

	// An uncommitted change in the working tree counts too.
	redescribe(t, dir, "      frontend:\n        replicas: 3\n", "      frontend:\n        replicas: 4\n")
	out, code, _ = diff(t, "-C", dir, "--exit-code", "--env", "prod", "--base", "HEAD", "--output", "markdown")
	if code != 1 || !strings.HasPrefix(out, review.Marker+"\n") || !strings.Contains(out, "replicas 3 → 4") {
		t.Errorf("uncommitted change as Markdown: status %d, output:\n%s", code, out)
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--base", "no-such-rev"}, "no-such-rev is not a commit"},
		{[]string{"--output", "xml"}, `--output "xml"`},
		{[]string{"--color", "sometimes"}, `--color "sometimes"`},
		{[]string{"--env", "staging"}, `no environment or cluster "staging": the repository has dev, prod, test`},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, code, msg := diff(t, append([]string{"-C", dir}, c.args...)...)
		if code != 2 || !strings.Contains(msg, c.msg) {
			t.Errorf("%v: status %d, message %q; want 2 and %q", c.args, code, msg, c.msg)
		}
	}
}

func TestDiffDefaultBaseNeedsAMainBranch(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "trunk")
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	commitAll(t, dir, "init")
	_, code, msg := diff(t, "-C", dir)
	if code != 2 || !strings.Contains(msg, "give --base <rev>") {
		t.Errorf("no main branch: status %d, message %q", code, msg)
	}
	git(t, dir, "branch", "master")
	if _, code, msg := diff(t, "-C", dir); code != 0 {
		t.Errorf("with a master branch: status %d, message %q", code, msg)
	}
}

// ciSteps are what each CI example must run.
var ciSteps = []string{"make test", "make generate", "git diff --exit-code", "platformctl diff --base", "--output markdown", review.Marker, `"$rc" -eq 3`}

// checkCI parses a CI file as YAML and returns the steps it lacks.
func checkCI(b []byte) ([]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var missing []string
	for _, s := range ciSteps {
		if !strings.Contains(string(b), s) {
			missing = append(missing, s)
		}
	}
	return missing, nil
}

func TestCIExamples(t *testing.T) {
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		b, err := os.ReadFile(filepath.Join("../../docs/ci", f))
		if err != nil {
			t.Fatal(err)
		}
		missing, err := checkCI(b)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if len(missing) > 0 {
			t.Errorf("%s does not run %q", f, missing)
		}
		var doc map[string]any
		_ = yaml.Unmarshal(b, &doc)
		switch f {
		case "github-actions.yml":
			// YAML 1.1 reads the key `on` as true.
			if _, ok, _ := unstructured.NestedFieldNoCopy(doc, "jobs", "review"); !ok || (doc["on"] == nil && doc["true"] == nil) {
				t.Errorf("%s: no review job or no trigger", f)
			}
		case "gitlab-ci.yml":
			if script, _, _ := unstructured.NestedSlice(doc, "review", "script"); len(script) == 0 {
				t.Errorf("%s: no review job script", f)
			}
		}
	}
	// The check itself fails on an example that lacks a step, and on
	// what is not YAML.
	if missing, _ := checkCI([]byte("jobs: {review: {steps: [{run: make generate}]}}")); len(missing) == 0 {
		t.Error("checkCI accepted a workflow without tests or diff")
	}
	if _, err := checkCI([]byte("jobs: [unclosed")); err == nil {
		t.Error("checkCI accepted invalid YAML")
	}
}

// TestDiffExitCodeRefused: with --exit-code, a change the API server
// refuses (a StatefulSet's claim template) exits with 3, not 1; the
// outputs say so in their summaries.
func TestDiffExitCodeRefused(t *testing.T) {
	dir := gitRepo(t)
	git(t, dir, "checkout", "-q", "-b", "feature")
	redescribe(t, dir, "      postgresql: 50Gi\n", "      postgresql: 80Gi\n")
	commitAll(t, dir, "a larger database volume")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--exit-code"}, 3, "prod: 0 added, 0 removed, 3 changed (1 flagged, 1 immutable)\n  !! 1 change the API server refuses"},
		{[]string{"--exit-code", "--output", "json"}, 3, `"immutable": true`},
		{[]string{"--exit-code", "--output", "markdown"}, 3, "| prod | 0 | 0 | 3 | 1 | **1** |"},
		{nil, 0, "! immutable StatefulSet invenio-prod/postgresql: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 50Gi → 80Gi (grow): the API server refuses it"},
		{[]string{"--exit-code", "--env", "dev"}, 0, "dev: no changes"},
	} {
		out, code, msg := diff(t, append([]string{"-C", dir, "--color", "never"}, c.args...)...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("diff %v: status %d (want %d), message %q; output lacks %q:\n%s", c.args, code, c.code, msg, c.want, out)
		}
	}
}

// TestDiffOfAStaleTree: a description edited but not generated again, or
// a generated file edited by hand, is an error naming the files and the
// command that fixes it, not "no changes"; after generate the diff shows
// the change. (The package's own description, one environment.)
func TestDiffOfAStaleTree(t *testing.T) {
	dir := fixtureRepo(t, fixture(t), "dev")
	desc := filepath.Join(dir, "platform.yaml")
	var out bytes.Buffer
	for _, args := range [][]string{{"secrets", "init", "dev", "-C", dir}, {"generate", "-C", dir}} {
		if err := run(args, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
	}
	git(t, dir, "init", "-q", "-b", "main")
	commitAll(t, dir, "generated tree")

	if got, code, msg := diff(t, "-C", dir, "--exit-code"); code != 0 {
		t.Fatalf("fresh tree: status %d, %s\n%s", code, msg, got)
	}
	replaceIn(t, dir, "platform.yaml", "host: invenio-dev.example.org", "host: repository-dev.example.org")
	_, code, msg := diff(t, "-C", dir, "--exit-code")
	for _, want := range []string{"the generated files are stale: ", "overlays/dev/", "run `platformctl generate -C " + dir + "`"} {
		if code != 2 || !strings.Contains(msg, want) {
			t.Errorf("description edited, not generated: status %d (want 2), message lacks %q:\n%s", code, want, msg)
		}
	}
	if err := run([]string{"generate", "-C", dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got, code, msg := diff(t, "-C", dir, "--exit-code"); code != 1 || !strings.Contains(got, "repository-dev.example.org") {
		t.Errorf("after generate: status %d (want 1, a change), %s; output:\n%s", code, msg, got)
	}
	f, err := os.OpenFile(filepath.Join(dir, "overlays/dev/kustomization.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("# edited by hand\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, code, msg := diff(t, "-C", dir); code != 2 || !strings.Contains(msg, "overlays/dev/kustomization.yaml differ") {
		t.Errorf("generated file edited by hand: status %d (want 2), message:\n%s", code, msg)
	}
	// A repository of generated files only has nothing to agree with,
	// unless -f names a description.
	if err := os.Remove(desc); err != nil {
		t.Fatal(err)
	}
	if _, code, msg := diff(t, "-C", dir); code != 0 {
		t.Errorf("no description: status %d (want 0), %s", code, msg)
	}
	if _, code, msg := diff(t, "-C", dir, "-f", "platform.yaml"); code != 2 || !strings.Contains(msg, "name the description with -f") {
		t.Errorf("-f names a missing description: status %d (want 2), %s", code, msg)
	}
}
