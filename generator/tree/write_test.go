package tree

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/tree/treetest"
)

// Every package's tests accept -update, because `make update` runs
// `go test ./... -update`.
var _ = flag.Bool("update", false, "rewrite golden files (none in this package)")

var roots = Owned{Roots: []string{"base", "overlays", "clusters"}, Except: []string{"clusters/*/flux-system"}}

// files lists every regular file below dir with its content.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func put(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mtime(t *testing.T, dir, rel string) time.Time {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func TestWriteCreatesTree(t *testing.T) {
	dir := t.TempDir()
	tr := Tree{"base/kustomization.yaml": []byte("a\n"), "overlays/dev/kustomization.yaml": []byte("b\n")}
	res, err := Write(dir, tr, roots)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tr.Paths(), sorted(res.Written)); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if len(res.Removed)+len(res.Unchanged) != 0 {
		t.Errorf("removed %v, unchanged %v on a fresh directory", res.Removed, res.Unchanged)
	}
	want := map[string]string{"base/kustomization.yaml": "a\n", "overlays/dev/kustomization.yaml": "b\n"}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	fi, err := os.Stat(filepath.Join(dir, "base/kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriteIsMinimal(t *testing.T) {
	dir := t.TempDir()
	tr := Tree{"base/a.yaml": []byte("a\n"), "base/b.yaml": []byte("b\n"), "overlays/dev/c.yaml": []byte("c\n")}
	if _, err := Write(dir, tr, roots); err != nil {
		t.Fatal(err)
	}
	// Age every file so a rewrite would show in its mtime.
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range tr {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	tr["base/b.yaml"] = []byte("b2\n")
	res, err := Write(dir, tr, roots)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"base/b.yaml"}, res.Written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"base/a.yaml", "overlays/dev/c.yaml"}, sorted(res.Unchanged)); diff != "" {
		t.Errorf("unchanged (-want +got):\n%s", diff)
	}
	for _, p := range []string{"base/a.yaml", "overlays/dev/c.yaml"} {
		if got := mtime(t, dir, p); !got.Equal(old) {
			t.Errorf("%s rewritten: mtime %v, want %v", p, got, old)
		}
	}
	if got := mtime(t, dir, "base/b.yaml"); got.Equal(old) {
		t.Errorf("base/b.yaml not rewritten")
	}
	if got := files(t, dir)["base/b.yaml"]; got != "b2\n" {
		t.Errorf("base/b.yaml = %q", got)
	}

	// A third run with the same tree writes nothing.
	res, err = Write(dir, tr, roots)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Written)+len(res.Removed) != 0 || len(res.Unchanged) != 3 {
		t.Errorf("second identical Write: %+v", res)
	}
}

func TestWriteRemovesStaleFilesOnlyBelowRoots(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "base/keep.yaml", "keep\n")
	put(t, dir, "base/old.yaml", "old\n")
	put(t, dir, "overlays/gone/kustomization.yaml", "gone\n")
	put(t, dir, "overlays/gone/deep/patch.yaml", "gone\n")
	put(t, dir, "overlays/dev/.generate-123456", "half-written by a crash\n")
	put(t, dir, "platform.yaml", "site: {}\n")
	put(t, dir, "docs/readme.md", "docs\n")
	put(t, dir, "basement/x.yaml", "a sibling whose name starts like a root\n")
	if err := os.MkdirAll(filepath.Join(dir, "overlays/empty/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "docs/empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	tr := Tree{"base/keep.yaml": []byte("keep\n"), "overlays/dev/kustomization.yaml": []byte("dev\n")}
	res, err := Write(dir, tr, roots)
	if err != nil {
		t.Fatal(err)
	}
	wantRemoved := []string{"base/old.yaml", "overlays/dev/.generate-123456", "overlays/gone/deep/patch.yaml", "overlays/gone/kustomization.yaml"}
	if diff := cmp.Diff(wantRemoved, sorted(res.Removed)); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"base/keep.yaml":                  "keep\n",
		"overlays/dev/kustomization.yaml": "dev\n",
		"platform.yaml":                   "site: {}\n",
		"docs/readme.md":                  "docs\n",
		"basement/x.yaml":                 "a sibling whose name starts like a root\n",
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	for _, d := range []string{"overlays/gone", "overlays/empty"} {
		if _, err := os.Stat(filepath.Join(dir, d)); !os.IsNotExist(err) {
			t.Errorf("empty directory %s left behind (%v)", d, err)
		}
	}
	for _, d := range []string{"docs/empty", "overlays", "base"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
			t.Errorf("directory %s removed: %v", d, err)
		}
	}
}

func TestWriteRejectsPathsOutsideRoots(t *testing.T) {
	for _, bad := range []string{"platform.yaml", "basement/x.yaml", "base", "../escape/base/x.yaml", "docs/base/x.yaml", "base/../platform.yaml", "overlays/../../outside.yaml", "/base/x.yaml", "base//x.yaml", "base/./x.yaml"} {
		t.Run(bad, func(t *testing.T) {
			dir := t.TempDir()
			put(t, dir, "base/old.yaml", "old\n")
			put(t, dir, "overlays/dev/k.yaml", "old\n")
			before := files(t, dir)
			tr := Tree{
				"base/new.yaml":       []byte("new\n"),
				"overlays/dev/k.yaml": []byte("changed\n"),
				bad:                   []byte("x\n"),
			}
			res, err := Write(dir, tr, roots)
			if err == nil {
				t.Fatalf("Write accepted %s", bad)
			}
			if len(res.Written)+len(res.Removed) != 0 {
				t.Errorf("result %+v, want nothing written or removed", res)
			}
			if diff := cmp.Diff(before, files(t, dir)); diff != "" {
				t.Errorf("directory changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestWriteFailureLeavesOldTree: when staging fails, no file has been
// renamed into place, nothing stale removed, and no temporary file or new
// directory is left.
func TestWriteFailureLeavesOldTree(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "base/a.yaml", "a\n")
	put(t, dir, "base/stale.yaml", "stale\n")
	put(t, dir, "overlays/dev/k.yaml", "k\n")
	before := treetest.Snapshot(t, dir)
	// A name longer than a file system takes: creating its directory fails
	// after base/a.yaml has been staged and overlays/dev/new made.
	tr := Tree{
		"base/a.yaml":         []byte("a2\n"),
		"overlays/dev/k.yaml": []byte("k\n"),
		"overlays/dev/new/" + strings.Repeat("x", 300) + "/b.yaml": []byte("b\n"),
		"overlays/dev/new/c.yaml":                                  []byte("c\n"),
	}
	if _, err := Write(dir, tr, roots); err == nil {
		t.Fatal("Write succeeded")
	}
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Errorf("directory changed (-before +after):\n%s", diff)
	}
}

// TestWriteLeavesOthersDirectoriesAlone: `flux bootstrap` writes
// clusters/<cluster>/flux-system/; the generator neither removes nor writes
// anything there, while stale files elsewhere under clusters/ go.
func TestWriteLeavesOthersDirectoriesAlone(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "clusters/prod/flux-system/gotk-sync.yaml", "bootstrap\n")
	put(t, dir, "clusters/prod/flux-system/kustomization.yaml", "bootstrap\n")
	put(t, dir, "clusters/prod/old.yaml", "stale\n")
	tr := Tree{"clusters/prod/source.yaml": []byte("source\n")}
	res, err := Write(dir, tr, roots)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"clusters/prod/old.yaml"}, res.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"clusters/prod/flux-system/gotk-sync.yaml":     "bootstrap\n",
		"clusters/prod/flux-system/kustomization.yaml": "bootstrap\n",
		"clusters/prod/source.yaml":                    "source\n",
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if _, err := Write(dir, Tree{"clusters/prod/flux-system/x.yaml": []byte("x\n")}, roots); err == nil {
		t.Error("Write wrote into clusters/prod/flux-system")
	}
}

// TestReplace: what Write leaves, in memory: files outside the owned
// part kept, owned files exactly the generated ones.
func TestReplace(t *testing.T) {
	owned := Owned{Roots: []string{"base", "clusters"}, Except: []string{"clusters/*/flux-system"}}
	current := Tree{
		"README.md":                      []byte("mine"),
		"secrets/prod/a.yaml":            []byte("sealed"),
		"base/old.yaml":                  []byte("stale"),
		"base/app.yaml":                  []byte("old"),
		"clusters/prod/flux-system/gotk": []byte("bootstrap"),
	}
	got := owned.Replace(current, Tree{"base/app.yaml": []byte("new"), "clusters/prod/prod.yaml": []byte("layers")})
	want := Tree{
		"README.md":                      []byte("mine"),
		"secrets/prod/a.yaml":            []byte("sealed"),
		"base/app.yaml":                  []byte("new"),
		"clusters/prod/flux-system/gotk": []byte("bootstrap"),
		"clusters/prod/prod.yaml":        []byte("layers"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replace (-want +got):\n%s", diff)
	}
}

// TestWriteRefusesLinks: a symbolic link at a path Write owns — a root, a
// directory, a file, a stale file — is refused, naming it, before
// anything is written: neither the repository nor the links' targets
// change. A link in someone else's directory, and a repository reached
// through a link, are fine.
func TestWriteRefusesLinks(t *testing.T) {
	msg := func(name, target string) string {
		return name + " is a symbolic link (to " + target + "): nothing is written through a link, so that every write stays inside the repository; remove the link (rm " + name + ") and run the command again"
	}
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, repo, outside string)
		want  func(repo, outside string) string
	}{
		{"directory below a root, out of the repository", func(t *testing.T, repo, outside string) {
			link(t, outside, repo, "overlays/dev")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "overlays/dev"), outside)
		}},
		{"directory below a root, inside the repository", func(t *testing.T, repo, outside string) {
			put(t, repo, "overlays/test/kustomization.yaml", "old\n")
			link(t, "test", repo, "overlays/dev")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "overlays/dev"), "test")
		}},
		{"a root", func(t *testing.T, repo, outside string) {
			if err := os.RemoveAll(filepath.Join(repo, "base")); err != nil {
				t.Fatal(err)
			}
			link(t, outside, repo, "base")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "base"), outside)
		}},
		{"a file the tree has", func(t *testing.T, repo, outside string) {
			link(t, filepath.Join(outside, "victim.yaml"), repo, "base/a.yaml")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "base/a.yaml"), filepath.Join(outside, "victim.yaml"))
		}},
		{"a stale file", func(t *testing.T, repo, outside string) {
			link(t, filepath.Join(outside, "victim.yaml"), repo, "overlays/old.yaml")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "overlays/old.yaml"), filepath.Join(outside, "victim.yaml"))
		}},
		{"two links, each named", func(t *testing.T, repo, outside string) {
			link(t, outside, repo, "overlays/dev")
			link(t, outside, repo, "clusters/prod")
		}, func(repo, outside string) string {
			return msg(filepath.Join(repo, "clusters/prod"), outside) + "\n" + msg(filepath.Join(repo, "overlays/dev"), outside)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			repo, outside := t.TempDir(), t.TempDir()
			put(t, outside, "victim.yaml", "not the generator's\n")
			put(t, repo, "base/old.yaml", "old\n")
			put(t, repo, "platform.yaml", "site: {}\n")
			c.setup(t, repo, outside)
			before, beforeOut := treetest.Snapshot(t, repo), treetest.Snapshot(t, outside)
			tr := Tree{"base/a.yaml": []byte("a\n"), "overlays/dev/kustomization.yaml": []byte("dev\n"), "clusters/prod/k.yaml": []byte("k\n")}
			res, err := Write(repo, tr, roots)
			if err == nil {
				t.Fatalf("Write succeeded: %+v", res)
			}
			if diff := cmp.Diff(c.want(repo, outside), err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Result{}, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before, treetest.Snapshot(t, repo)); diff != "" {
				t.Errorf("repository changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(beforeOut, treetest.Snapshot(t, outside)); diff != "" {
				t.Errorf("the links' target changed (-before +after):\n%s", diff)
			}
		})
	}

	t.Run("a link in someone else's directory", func(t *testing.T) {
		repo, outside := t.TempDir(), t.TempDir()
		link(t, outside, repo, "clusters/prod/flux-system")
		put(t, repo, "clusters/test/flux-system/x.yaml", "bootstrap\n")
		link(t, outside, repo, "clusters/test/flux-system/link")
		if _, err := Write(repo, Tree{"clusters/prod/k.yaml": []byte("k\n")}, roots); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"clusters/prod/flux-system":        "Lrwxrwxrwx -> " + outside,
			"clusters/test/flux-system/link":   "Lrwxrwxrwx -> " + outside,
			"clusters/test/flux-system/x.yaml": "bootstrap\n",
			"clusters/prod/k.yaml":             "k\n",
		}
		if diff := cmp.Diff(want, contents(t, repo)); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
	})

	t.Run("a repository reached through a link", func(t *testing.T) {
		repo, elsewhere := t.TempDir(), t.TempDir()
		via := filepath.Join(elsewhere, "repo")
		if err := os.Symlink(repo, via); err != nil {
			t.Fatal(err)
		}
		put(t, repo, "base/old.yaml", "old\n")
		res, err := Write(via, Tree{"base/a.yaml": []byte("a\n")}, roots)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(Result{Written: []string{"base/a.yaml"}, Removed: []string{"base/old.yaml"}}, res); diff != "" {
			t.Errorf("result (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"base/a.yaml": "a\n"}, files(t, repo)); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
	})
}

// TestWriteRefusesWhatStandsInTheWay: a directory where the tree has a
// file, or a file where it needs a directory, is refused before anything
// is written.
func TestWriteRefusesWhatStandsInTheWay(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "base/a.yaml", "a\n")
	put(t, dir, "base/app.yaml/x", "a directory named like a file\n")
	put(t, dir, "overlays/dev/x", "a file, not a directory\n")
	before := treetest.Snapshot(t, dir)
	tr := Tree{"base/a.yaml": []byte("a2\n"), "base/app.yaml": []byte("app\n"), "overlays/dev/x/b.yaml": []byte("b\n"), "overlays/dev/x/c.yaml": []byte("c\n")}
	_, err := Write(dir, tr, roots)
	want := filepath.Join(dir, "base/app.yaml") + " is a directory where the generator writes a file: move it away and run the command again\n" +
		filepath.Join(dir, "overlays/dev/x") + " is not a directory, but the generator writes overlays/dev/x/b.yaml below it: move it away and run the command again"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want\n%s", err, want)
	}
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Errorf("directory changed (-before +after):\n%s", diff)
	}
}

func link(t *testing.T, target, dir, rel string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// contents is every file and link below dir: its content, or its target
// as the snapshot has it.
func contents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for p, e := range treetest.Snapshot(t, dir) {
		switch {
		case strings.HasPrefix(e, "L"):
			out[p] = e
		case strings.HasPrefix(e, "-"):
			_, content, _ := strings.Cut(e, "\n")
			out[p] = content
		}
	}
	return out
}

// TestDifferences: changed, missing and extra owned files are listed,
// sorted; files the generator does not own are not.
func TestDifferences(t *testing.T) {
	owned := Owned{Roots: []string{"base", "clusters"}, Except: []string{"clusters/*/flux-system"}}
	generated := Tree{"base/a.yaml": []byte("a"), "base/b.yaml": []byte("b")}
	for _, tc := range []struct {
		name    string
		current Tree
		want    []string
	}{
		{"same", Tree{"base/a.yaml": []byte("a"), "base/b.yaml": []byte("b"), "README.md": []byte("x")}, nil},
		{"changed", Tree{"base/a.yaml": []byte("A"), "base/b.yaml": []byte("b")}, []string{"base/a.yaml"}},
		{"missing", Tree{"base/b.yaml": []byte("b")}, []string{"base/a.yaml"}},
		{"extra owned", Tree{"base/a.yaml": []byte("a"), "base/b.yaml": []byte("b"), "base/old.yaml": nil, "clusters/lab/x.yaml": nil}, []string{"base/old.yaml", "clusters/lab/x.yaml"}},
		{"extra not owned", Tree{"base/a.yaml": []byte("a"), "base/b.yaml": []byte("b"), "secrets/dev/s.yaml": nil, "clusters/lab/flux-system/gotk.yaml": nil}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, owned.Differences(tc.current, generated)); d != "" {
				t.Errorf("Differences (-want +got):\n%s", d)
			}
		})
	}
}
