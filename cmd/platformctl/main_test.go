package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/generator/tree/treetest"
	"lbl.gov/invenio-gitops/internal/testrepo"
)

// Every package's tests accept -update, because `make update` runs
// `go test ./... -update`.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

// TestMain keeps generate's result cache (docs/speed.md) of these tests
// in a directory of their own, removed afterwards.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "platformctl-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("PLATFORMCTL_CACHE", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// description is the fixture repository's platform.yaml (internal/testrepo),
// absolute: a relative -f is read from -C. These tests never read the
// operator's platform.yaml.
var description = testrepo.Platform

// snapshot records every entry below dir: paths, modes, contents, link
// targets and files' modification times (treetest.Snapshot).
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	return treetest.Snapshot(t, dir)
}

func generate(t *testing.T, file, dir string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run([]string{"generate", "-f", file, "-C", dir}, &stdout, &stderr)
	return stdout.String(), err
}

// generated returns a directory holding a tree generated from the
// repository's description, beside a file the generator does not own.
// withSecrets returns a new directory holding a copy of the fixture's
// secrets/ (an input of generate: the sealed values and certificates).
func withSecrets(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := testrepo.Secrets
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

// generateHelp is what generate -h prints.
const generateHelp = `usage: platformctl generate [-f platform.yaml] [-C dir] [-q]

(Re)writes base/, overlays/ and clusters/ from the description and the
sealed values of secrets/<env>/, or changes nothing and says why. Warns
(on standard error, status unchanged) of each change it writes that the
API server refuses on a running cluster, with what it takes
(docs/immutable-fields.md).

flags:
  -C dir
    	run in dir, the repository, as git -C does (default ".")
  -f file
    	the platform description, a YAML file (a relative path is read from -C) (default "platform.yaml")
  -q	print nothing when nothing changed
`

// cli runs platformctl with args as main does: what it prints, its exit
// status and the message main prints on stderr.
func cli(args ...string) (stdout, stderr string, status int, msg string) {
	var o, e bytes.Buffer
	err := run(args, &o, &e)
	if err != nil {
		msg = err.Error()
	}
	return o.String(), e.String(), exitStatus(err), msg
}

// TestFailedGenerateChangesNothing: every way generate refuses exits with
// status 2 and an exact message, prints nothing on stdout, and leaves the
// repository — and whatever a link in it leads to — exactly as it was.
func TestFailedGenerateChangesNothing(t *testing.T) {
	good, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) func(t *testing.T, dir string) []string {
		return func(t *testing.T, dir string) []string {
			t.Helper()
			if !strings.Contains(string(good), old) {
				t.Fatalf("platform.yaml has no %q", old)
			}
			return describe(t, strings.Replace(string(good), old, new, 1))
		}
	}
	// link replaces rel in the repository by a link to a copy of it in
	// <outside>.
	link := func(rel string) func(t *testing.T, dir string) []string {
		return func(t *testing.T, dir string) []string {
			t.Helper()
			outside := filepath.Join(filepath.Dir(dir), "outside")
			if err := os.MkdirAll(filepath.Dir(filepath.Join(outside, rel)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(dir, rel), filepath.Join(outside, rel)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, rel), filepath.Join(dir, rel)); err != nil {
				t.Fatal(err)
			}
			return []string{"generate", "-f", description, "-C", dir}
		}
	}
	args := func(a ...string) func(t *testing.T, dir string) []string {
		return func(t *testing.T, dir string) []string {
			return append([]string{"generate", "-f", description, "-C", dir}, a...)
		}
	}
	const (
		bad     = "<desc>"
		linkMsg = "<dir>/%[1]s is a symbolic link (to <outside>/%[1]s): nothing is written through a link, so that every write stays inside the repository; remove the link (rm <dir>/%[1]s) and run the command again"
	)
	template := generated(t)
	if err := os.WriteFile(filepath.Join(template, "base/app/web-ui.yaml"), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		setup  func(t *testing.T, dir string) []string // the arguments
		want   string
		stderr string
	}{
		{"empty", func(t *testing.T, dir string) []string { return describe(t, "") },
			bad + ":1: the description is empty: start from the platform.yaml in the repository root", ""},
		{"unknown field", edit("  name: lbnl-data-repository", "  name: lbnl-data-repository\n  nmae: x"),
			bad + `:7: site: unknown field "nmae": did you mean "name"? (valid fields here are name, partOf, managedBy)`, ""},
		{"bad size", edit("files: 20Gi", "files: 20 GB"), bad + `:45: environments[0].storage.files: "20 GB" is not a Kubernetes quantity: write e.g. 500m or 2 for CPU, 512Mi or 100Gi for memory and storage`, ""},
		{"beat replicas", edit("      frontend:\n        replicas: 2", "      beat:\n        replicas: 2"), bad + ":80: environments[1].workloads.beat.replicas: 2 replicas: Celery beat must run exactly one replica, or tasks run twice; write 1 (or 0 to stop it)", ""},
		{"duplicate namespace", edit("namespace: invenio-test", "namespace: invenio-dev"), bad + `:63: environments[1].namespace: namespace "invenio-dev" is already used by the environment at line 36: each environment needs its own namespace`, ""},
		{"two documents", func(t *testing.T, dir string) []string { return describe(t, string(good)+"---\nsite: {}\n") }, bad + ":174: the description must be a single YAML document, but a second one starts here (the first is at line 5): remove this '---' and what follows it, or merge it into the first", ""},
		{"saml without idp", edit("        idp: lbl\n", ""), bad + ":95: environments[2].auth.saml.idp: is required: name the identity provider, e.g. lbl", ""},
		{"binary", func(t *testing.T, dir string) []string { return describe(t, "\x1f\x8b\x08\x00\x00") },
			bad + ":1: not a text file (a NUL byte, byte 4 of the file): the description is YAML text; check that this is the file you meant", ""},
		{"a tab", edit("  name: lbnl-data-repository", "\tname: lbnl-data-repository"), bad + ":6: a tab in the indentation: YAML indents with spaces; replace the tab with spaces", ""},
		{"Latin-1", edit("  name: lbnl-data-repository", "  name: caf\xe9"), bad + ":6: not UTF-8 (byte 0xE9 in column 12): save the file as UTF-8", ""},
		{"missing file", args("-f", "nope.yaml"),
			"<dir>/nope.yaml: no such file or directory: name the description with -f (a relative path is read from the -C directory)", ""},
		{"no such -C", func(t *testing.T, dir string) []string {
			return []string{"generate", "-f", description, "-C", filepath.Join(dir, "nope")}
		}, "-C <dir>/nope: no such directory", ""},
		{"-C a file", func(t *testing.T, dir string) []string {
			return []string{"generate", "-f", description, "-C", filepath.Join(dir, "README.md")}
		}, "-C <dir>/README.md: not a directory", ""},
		{"an argument", args("dev"), "generate takes no arguments, got [\"dev\"]\n" + generateHelp, ""},
		{"an unknown flag", args("--force"), "generate: flag provided but not defined: -force\n" + generateHelp, ""},
		{"a linked overlay", link("overlays/dev"), fmt.Sprintf(linkMsg, "overlays/dev"), ""},
		{"a linked root", link("base"), fmt.Sprintf(linkMsg, "base"), ""},
		{"a linked file", link("clusters/prod/infrastructure.yaml"), fmt.Sprintf(linkMsg, "clusters/prod/infrastructure.yaml"), ""},
		{"a key not sealed", func(t *testing.T, dir string) []string {
			if err := os.Remove(filepath.Join(dir, "secrets/prod/invenio-redis.yaml")); err != nil {
				t.Fatal(err)
			}
			return []string{"generate", "-f", description, "-C", dir}
		}, "environment prod: not sealed: invenio-redis/password (see `platformctl secrets check prod`)\n" +
			"secrets/prod/kustomization.yaml lists invenio-redis.yaml, which is not there (deleted by hand?): `platformctl secrets init prod` seals its generated keys again and rewrites the list; keys you supply need `platformctl secrets set prod <secret>/<key> --from-file <file>` (`platformctl secrets check prod` lists them)", ""},
		{"another command writing", func(t *testing.T, dir string) []string {
			release, err := tree.Lock(dir, tree.Holder{Command: "secrets rotate", PID: 4242, Host: "lab-ws", Since: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(release)
			wait := lockWait
			lockWait = 100 * time.Millisecond
			t.Cleanup(func() { lockWait = wait })
			return []string{"generate", "-f", description, "-C", dir}
		}, "<dir> is being written by platformctl secrets rotate (pid 4242 on lab-ws, since 2026-12-01T10:00:00Z); waited 100ms: run the command again when it has finished (its lock, <dir>/.platformctl.lock, is released when that process ends)",
			"waiting up to 100ms for platformctl secrets rotate (pid 4242 on lab-ws, since 2026-12-01T10:00:00Z) to finish writing <dir>\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "repo")
			if err := os.CopyFS(dir, os.DirFS(template)); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(filepath.Dir(dir), "outside")
			args := c.setup(t, dir)
			for i := range args {
				args[i] = strings.ReplaceAll(args[i], "<dir>", dir)
			}
			desc := args[slices.Index(args, "-f")+1]
			before, beforeOut := snapshot(t, dir), snapshotIfAny(t, outside)
			stdout, stderr, status, msg := cli(args...)
			fill := strings.NewReplacer("<dir>", dir, "<outside>", outside, "<desc>", desc)
			if diff := cmp.Diff(fill.Replace(c.want), msg); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if status != 2 || stdout != "" || stderr != fill.Replace(c.stderr) {
				t.Errorf("status %d (want 2), stdout %q (want none), stderr %q (want %q)", status, stdout, stderr, fill.Replace(c.stderr))
			}
			if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
				t.Errorf("the repository changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(beforeOut, snapshotIfAny(t, outside)); diff != "" {
				t.Errorf("outside the repository changed (-before +after):\n%s", diff)
			}
		})
	}
}

// describe writes a description into a file of its own and returns the
// arguments of a generate that reads it; the repository is "<dir>".
func describe(t *testing.T, yaml string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "platform.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"generate", "-f", p, "-C", "<dir>"}
}

func snapshotIfAny(t *testing.T, dir string) map[string]string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	return snapshot(t, dir)
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
	if err := run([]string{"build", "dev", "-f", description, "-C", testrepo.Dir}, &stdout, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	out := stdout.String()
	for _, want := range []string{"kind: Deployment", "namespace: invenio-dev", "kind: NetworkPolicy"} {
		if !strings.Contains(out, want) {
			t.Errorf("build dev output lacks %q", want)
		}
	}
}

// TestUsage: help goes to stdout with status 0; every mistake in the
// command line is status 2 with a message saying what to write.
func TestUsage(t *testing.T) {
	const buildHelp = `usage: platformctl build <env> [-f platform.yaml] [-C dir]

Prints the manifests of one environment exactly as kustomize builds
overlays/<env> (with its sealed secrets), from the description.

flags:
  -C dir
    	run in dir, the repository, as git -C does (default ".")
  -f file
    	the platform description, a YAML file (a relative path is read from -C) (default "platform.yaml")
`
	const layersHelp = `usage: platformctl layers [-f platform.yaml] [-C dir]

Prints each cluster's Flux Kustomizations, each under the one it depends on.

flags:
  -C dir
    	run in dir, the repository, as git -C does (default ".")
  -f file
    	the platform description, a YAML file (a relative path is read from -C) (default "platform.yaml")
`
	for _, c := range []struct {
		args        []string
		stdout, msg string
		status      int
	}{
		{nil, "", usage, 2},
		{[]string{"help"}, usage, "", 0},
		{[]string{"--help"}, usage, "", 0},
		{[]string{"frobnicate"}, "", "unknown command \"frobnicate\"\n" + usage, 2},
		{[]string{"generate", "--help"}, generateHelp, "", 0},
		{[]string{"generate", "-h"}, generateHelp, "", 0},
		{[]string{"generate", "-q", "now"}, "", "generate takes no arguments, got [\"now\"]\n" + generateHelp, 2},
		{[]string{"generate", "-f"}, "", "generate: flag needs an argument: -f\n" + generateHelp, 2},
		{[]string{"build", "--help"}, buildHelp, "", 0},
		{[]string{"build", "dev", "-h"}, buildHelp, "", 0},
		{[]string{"build"}, "", "build takes one environment, got []\n" + buildHelp, 2},
		{[]string{"build", "dev", "prod"}, "", "build takes one environment, got [\"dev\" \"prod\"]\n" + buildHelp, 2},
		{[]string{"build", "nosuch", "-f", description}, "", "no environment \"nosuch\" in " + description + " (it has [dev test prod])", 2},
		{[]string{"layers", "-h"}, layersHelp, "", 0},
		{[]string{"check", "nosuch", "-f", description}, "", "no environment \"nosuch\" in " + description + " (it has [dev test prod])", 2},
		{[]string{"layers", "prod"}, "", "layers takes no arguments, got [\"prod\"]\n" + layersHelp, 2},
		{[]string{"diff", "--color", "sometimes", "-C", "/nonexistent"}, "", "-C /nonexistent: no such directory", 2},
		{[]string{"secrets", "help"}, secretsUsage, "", 0},
		{[]string{"version", "now"}, "", "version takes no arguments, got [\"now\"]", 2},
		{[]string{"version", "-h"}, "usage: platformctl version (or --version)\n\nPrints the version: the module version, the commit it was built from and the Go version.\n", "", 0},
		{[]string{"help", "layers"}, layersHelp, "", 0},
		{[]string{"completion", "bash", "--bogus"}, "", "completion: flag provided but not defined: --bogus (completion takes no flags)\n" + completionUsage, 2},
		{[]string{"help", "nosuch"}, "", "help: no command \"nosuch\"\n" + usage, 2},
		{[]string{"help", "layers", "extra"}, "", "help: no command \"layers extra\"\n" + usage, 2},
		{[]string{"--version", "--short"}, "", "--version takes no arguments, got [\"--short\"]", 2},
	} {
		stdout, stderr, status, msg := cli(c.args...)
		if stdout != c.stdout || msg != c.msg || status != c.status || stderr != "" {
			t.Errorf("platformctl %q:\nstatus %d, want %d\nstdout %q\nwant   %q\nmessage %q\nwant    %q\nstderr %q", c.args, status, c.status, stdout, c.stdout, msg, c.msg, stderr)
		}
	}
	// These end with their flags, tested in their own tests.
	for _, c := range []struct {
		args []string
		head string
	}{
		{[]string{"diff", "-h"}, diffUsage + "\nflags:\n"},
		{[]string{"check", "-h"}, checkUsage + "\nflags:\n"},
		{[]string{"check", "--help"}, checkUsage + "\nflags:\n"},
		{[]string{"diff", "--help"}, diffUsage + "\nflags:\n"},
		{[]string{"secrets", "init", "-h"}, secretsUsage + "\nflags:\n"},
		{[]string{"--version"}, "platformctl "},
		{[]string{"version"}, "platformctl "},
	} {
		stdout, stderr, status, msg := cli(c.args...)
		if status != 0 || !strings.HasPrefix(stdout, c.head) || stderr != "" || msg != "" {
			t.Errorf("platformctl %q: status %d, stdout %q, stderr %q, message %q; want the usage on stdout and 0", c.args, status, stdout, stderr, msg)
		}
	}
}

// TestDirIsWhereTheCommandRuns: -C works like git's: the description is
// read from there unless -f is absolute, and a -C that is no directory is
// said to be one (not taken for a repository with nothing sealed).
func TestDirIsWhereTheCommandRuns(t *testing.T) {
	dir := withSecrets(t)
	b, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "other.yaml"), []byte("site: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The package directory has no platform.yaml: generate reads dir's.
	stdout, _, status, msg := cli("generate", "-C", dir)
	if status != 0 || !strings.HasSuffix(stdout, " files written, 0 removed, 0 unchanged\n") {
		t.Fatalf("generate -C dir: status %d, %s\n%s", status, msg, stdout)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"generate", "-C", dir, "-f", "other.yaml"}, filepath.Join(dir, "other.yaml") + ":1: did not find expected node content: a value is missing here, or a bracket is not closed"},
		{[]string{"layers", "-f", "other.yaml", "-C", dir}, filepath.Join(dir, "other.yaml") + ":1: did not find expected node content: a value is missing here, or a bracket is not closed"},
		{[]string{"generate", "-C", "/nonexistent"}, "-C /nonexistent: no such directory"},
		{[]string{"build", "dev", "-C", "/nonexistent"}, "-C /nonexistent: no such directory"},
	} {
		_, _, status, msg := cli(c.args...)
		if status != 2 || msg != c.msg {
			t.Errorf("platformctl %q: status %d, message %q; want 2 and %q", c.args, status, msg, c.msg)
		}
	}
}

// TestConcurrentGenerates: generate run several times at once on one
// repository: each waits for the one writing, none fails, exactly one
// writes the files and the others find them up to date.
func TestConcurrentGenerates(t *testing.T) {
	dir := withSecrets(t)
	const runs = 4
	outs := make([]string, runs)
	errs := make([]error, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			var stdout bytes.Buffer
			errs[i] = run([]string{"generate", "-q", "-f", description, "-C", dir}, &stdout, &bytes.Buffer{})
			outs[i] = stdout.String()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	slices.Sort(outs)
	if outs[0] != "" || outs[runs-2] != "" || !strings.HasSuffix(outs[runs-1], " files written, 0 removed, 0 unchanged\n") {
		t.Errorf("want one run writing every file and %d finding nothing to do:\n%s", runs-1, strings.Join(outs, "\n---\n"))
	}
	// The tree is the one a lone generate writes.
	alone := withSecrets(t)
	if _, err := generate(t, description, alone); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(contents(t, alone), contents(t, dir)); diff != "" {
		t.Errorf("tree (-alone +concurrent):\n%s", diff)
	}
}

// contents is every file below dir with its content.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, e := range snapshot(t, dir) {
		if strings.HasPrefix(e, "-") {
			_, out[p], _ = strings.Cut(e, "\n")
		}
	}
	return out
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

// warnings runs generate with the description good edited (old, which
// must occur once, replaced by new) into dir and returns the lines it
// printed on standard error.
func warnings(t *testing.T, dir, good, old, new string) []string {
	t.Helper()
	if old != "" && strings.Count(good, old) != 1 {
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

// signal is a writer that closes ch at its first write.
type signal struct {
	once sync.Once
	ch   chan struct{}
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (s *signal) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.once.Do(func() { close(s.ch) })
	return s.buf.Write(b)
}

// TestWritersReadTheDescriptionUnderTheLock: a command that writes and
// waits for the lock reads platform.yaml once it holds the lock, so what
// it writes follows the description as it is then, not as it was when the
// command started.
func TestWritersReadTheDescriptionUnderTheLock(t *testing.T) {
	for _, c := range []struct {
		name      string
		repo      func(t *testing.T) string
		args      []string
		old, new  string // the edit of platform.yaml made while it waits
		want      string // a file the new description writes…
		wantHolds string // …holding this
	}{
		{
			name: "generate",
			repo: withSecrets,
			args: []string{"generate"},
			old:  "tag: v12.0.10-lbnl.2", new: "tag: v12.0.99-new",
			want: "overlays/dev/app/kustomization.yaml", wantHolds: "v12.0.99-new",
		},
		{
			name: "secrets init",
			repo: func(t *testing.T) string {
				kp, _ := secKeyPairs(t)
				dir := t.TempDir()
				secWriteCert(t, dir, "dev", kp.CertPEM)
				return dir
			},
			args: []string{"secrets", "init", "dev"},
			old:  "    namespace: invenio-dev\n", new: "    namespace: invenio-dev\n    secrets: {redis: redis-renamed}\n",
			want: "secrets/dev/redis-renamed.yaml", wantHolds: "name: redis-renamed",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.repo(t)
			desc := filepath.Join(dir, "platform.yaml")
			b, err := os.ReadFile(description)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(desc, b, 0o644); err != nil {
				t.Fatal(err)
			}
			release, err := tree.Lock(dir, tree.Me("test"), 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			wait := lockWait
			lockWait = time.Minute
			t.Cleanup(func() { lockWait = wait })
			stderr := &signal{ch: make(chan struct{})}
			done := make(chan error, 1)
			go func() {
				done <- run(append(c.args, "-f", desc, "-C", dir), &bytes.Buffer{}, stderr)
			}()
			select {
			case <-stderr.ch: // waiting for the lock
			case err := <-done:
				release()
				t.Fatalf("%v did not wait for the lock: %v", c.args, err)
			}
			edited := strings.Replace(string(b), c.old, c.new, 1)
			if edited == string(b) {
				t.Fatalf("platform.yaml has no %q", c.old)
			}
			if err := os.WriteFile(desc, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			release()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.want)))
			if err != nil || !strings.Contains(string(got), c.wantHolds) {
				t.Errorf("%s holds %q (%v), want it to hold %q (from the edited description)", c.want, got, err, c.wantHolds)
			}
		})
	}
}

// TestGenerateAfterAnEnvironmentIsRemoved: test removed from the
// description. With its secrets/test/ kept, generate says the directory
// belongs to no environment; with it removed too, the comparison with the
// tree on disk fails for cluster test only, and prod's refused change is
// still reported.
func TestGenerateAfterAnEnvironmentIsRemoved(t *testing.T) {
	b, err := os.ReadFile(description)
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	start, end := strings.Index(good, "  # Test: shaped like prod"), strings.Index(good, "  # Production:")
	if start < 0 || end < start {
		t.Fatal("fixture: the test environment's comments moved")
	}
	without := good[:start] + good[end:]
	t.Run("secrets kept", func(t *testing.T) {
		dir := generated(t)
		got := warnings(t, dir, without, "", "")
		want := []string{"warning: " + generator.StrayWarning("secrets/test")}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("warnings (-want +got):\n%s", diff)
		}
		if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(without), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, stderr, status, msg := cli("secrets", "check", "-C", dir); status != 0 || !strings.Contains(stderr, "warning: "+generator.StrayWarning("secrets/test")) {
			t.Errorf("secrets check: status %d (%s), no warning of secrets/test:\n%s", status, msg, stderr)
		}
	})
	t.Run("secrets removed", func(t *testing.T) {
		dir := generated(t)
		if err := os.RemoveAll(filepath.Join(dir, "secrets", "test")); err != nil {
			t.Fatal(err)
		}
		got := warnings(t, dir, without, "      postgresql: 50Gi\n", "      postgresql: 40Gi\n")
		if len(got) != 3 || !strings.HasPrefix(got[0], "warning: could not compare with the tree on disk for changes the API server refuses: cluster test: ") ||
			!strings.Contains(got[1], "StatefulSet invenio-prod/postgresql: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 50Gi → 40Gi (shrink)") {
			t.Errorf("warnings:\n%s", strings.Join(got, "\n"))
		}
	})
}
