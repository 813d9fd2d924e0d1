package tree

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
// renamed into place, nothing stale removed and no temporary file is left.
func TestWriteFailureLeavesOldTree(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "base/a.yaml", "a\n")
	put(t, dir, "base/stale.yaml", "stale\n")
	// A file where the new tree needs a directory: creating it fails after
	// base/a.yaml has been staged.
	put(t, dir, "overlays/dev/x", "a file, not a directory\n")
	before := files(t, dir)
	tr := Tree{"base/a.yaml": []byte("a2\n"), "overlays/dev/x/b.yaml": []byte("b\n")}
	if _, err := Write(dir, tr, roots); err == nil {
		t.Fatal("Write succeeded")
	}
	if diff := cmp.Diff(before, files(t, dir)); diff != "" {
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
