package gitrev

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/tree"
)

func gitT(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func write(t *testing.T, dir string, files tree.Tree) {
	t.Helper()
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadMatchesTheWorkingTree(t *testing.T) {
	dir := t.TempDir()
	first := tree.Tree{
		"repo/base/a.yaml":          []byte("a: 1\n"),
		"repo/base/deep/b.yaml":     []byte("b: 2\n"),
		"repo/overlays/x.yaml":      []byte(""),
		"repo/overlays/bin":         {0, 1, 2, '\n', 0},
		"repo/elsewhere/skip.yaml":  []byte("not read"),
		"outside/base/ignored.yaml": []byte("other directory"),
	}
	write(t, dir, first)
	gitT(t, dir, "init", "-q", "-b", "main")
	gitT(t, dir, "add", "-A")
	gitT(t, dir, "commit", "-q", "-m", "one")
	write(t, dir, tree.Tree{"repo/base/a.yaml": []byte("a: changed\n")})

	roots := []string{"base", "overlays", "missing"}
	sub := filepath.Join(dir, "repo")
	committed, err := Read(sub, "HEAD", roots)
	if err != nil {
		t.Fatal(err)
	}
	want := tree.Tree{"base/a.yaml": []byte("a: 1\n"), "base/deep/b.yaml": []byte("b: 2\n"), "overlays/x.yaml": []byte(""), "overlays/bin": {0, 1, 2, '\n', 0}}
	if diff := cmp.Diff(want, committed); diff != "" {
		t.Errorf("Read (-want +got):\n%s", diff)
	}
	disk, err := ReadDisk(sub, roots)
	if err != nil {
		t.Fatal(err)
	}
	want["base/a.yaml"] = []byte("a: changed\n")
	if diff := cmp.Diff(want, disk); diff != "" {
		t.Errorf("ReadDisk (-want +got):\n%s", diff)
	}
	if _, err := Read(sub, "nope", roots); err == nil || !strings.Contains(err.Error(), "nope is not a commit") {
		t.Errorf("unknown revision: %v", err)
	}
}

func TestDefaultBase(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, tree.Tree{"f": []byte("1")})
	gitT(t, dir, "init", "-q", "-b", "trunk")
	gitT(t, dir, "add", "-A")
	gitT(t, dir, "commit", "-q", "-m", "one")
	if _, _, err := DefaultBase(dir); err == nil {
		t.Error("no main or master: no error")
	}
	gitT(t, dir, "branch", "master")
	gitT(t, dir, "checkout", "-q", "-b", "feature")
	write(t, dir, tree.Tree{"f": []byte("2")})
	gitT(t, dir, "commit", "-q", "-am", "two")
	name, commit, err := DefaultBase(dir)
	master, _ := Resolve(dir, "master")
	if err != nil || name != "merge-base(HEAD, master)" || commit != master {
		t.Errorf("DefaultBase = %q, %q, %v; want the master commit %s", name, commit, err, master)
	}
}
