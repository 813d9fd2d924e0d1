package tree

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/tree/treetest"
)

// TestWriteFailingCommitChangesNothing: an operation of the rename phase
// fails (a test hook stands for it, or chattr +i on a file): every file
// already renamed or removed is put back, the staged files, backups and
// new directories go, and the error names the repository path and a fix.
// With hard links unavailable the backups are copies, to the same effect.
func TestWriteFailingCommitChangesNothing(t *testing.T) {
	fail := func(op, name string, errno syscall.Errno) func(string, string) error {
		return func(o, n string) error {
			if o == op && filepath.ToSlash(n) == name {
				return &os.LinkError{Op: o, Old: n, New: n, Err: errno}
			}
			return nil
		}
	}
	noLinks := func(next func(string, string) error) func(string, string) error {
		return func(o, n string) error {
			if o == "link" {
				return &os.LinkError{Op: o, Old: n, New: n, Err: syscall.EXDEV}
			}
			return next(o, n)
		}
	}
	tr := Tree{
		"base/a.yaml":             []byte("a2\n"),
		"base/b.yaml":             []byte("b2\n"),
		"overlays/dev/k.yaml":     []byte("k\n"),
		"overlays/dev/new/c.yaml": []byte("c\n"),
	}
	for _, tc := range []struct {
		name    string
		hook    func(op, name string) error
		chattr  string // made immutable
		wantErr string
	}{
		{
			name:    "rename of a replaced file",
			hook:    fail("rename", "base/b.yaml", syscall.EPERM),
			wantErr: "base/b.yaml cannot be replaced (operation not permitted): check its permissions and attributes (lsattr, chattr -i); nothing was changed",
		},
		{
			name:    "rename of a new file, after the others",
			hook:    fail("rename", "overlays/dev/new/c.yaml", syscall.ENOSPC),
			wantErr: "overlays/dev/new/c.yaml cannot be written (no space left on device): free some space; nothing was changed",
		},
		{
			name:    "removal of a stale file",
			hook:    fail("remove", "base/stale.yaml", syscall.EACCES),
			wantErr: "base/stale.yaml cannot be removed (permission denied): check its permissions and attributes (lsattr, chattr -i); nothing was changed",
		},
		{
			name:    "no hard links, then a removal fails",
			hook:    noLinks(fail("remove", "base/stale.yaml", syscall.EROFS)),
			wantErr: "base/stale.yaml cannot be removed (read-only file system): its file system is mounted read-only; nothing was changed",
		},
		{
			name:    "immutable file",
			chattr:  "base/b.yaml",
			wantErr: "base/b.yaml cannot be replaced (operation not permitted): check its permissions and attributes (lsattr, chattr -i); nothing was changed",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			put(t, dir, "base/a.yaml", "a\n")
			put(t, dir, "base/b.yaml", "b\n")
			put(t, dir, "base/stale.yaml", "stale\n")
			put(t, dir, "overlays/dev/k.yaml", "k\n")
			if tc.chattr != "" {
				p := filepath.Join(dir, filepath.FromSlash(tc.chattr))
				if out, err := exec.Command("chattr", "+i", p).CombinedOutput(); err != nil {
					t.Skipf("chattr +i: %v: %s", err, out)
				}
				t.Cleanup(func() { exec.Command("chattr", "-i", p).Run() })
			}
			before := treetest.Snapshot(t, dir)
			testFail = tc.hook
			defer func() { testFail = nil }()
			_, err := Write(dir, tr, roots)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("Write: got error\n%v\nwant\n%s", err, tc.wantErr)
			}
			var ce *CommitError
			if !errors.As(err, &ce) || ce.Undo != nil {
				t.Errorf("Write: error %#v is not a *CommitError with nothing left to undo", err)
			}
			if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
				t.Errorf("directory changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestWriteWithoutHardLinks: where hard links fail, the backups are
// copies, and a write that succeeds leaves none of them.
func TestWriteWithoutHardLinks(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "base/a.yaml", "a\n")
	put(t, dir, "base/stale.yaml", "stale\n")
	testFail = func(op, name string) error {
		if op == "link" {
			return &os.LinkError{Op: op, Old: name, New: name, Err: syscall.EPERM}
		}
		return nil
	}
	defer func() { testFail = nil }()
	res, err := Write(dir, Tree{"base/a.yaml": []byte("a2\n"), "base/b.yaml": []byte("b\n")}, roots)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"base/a.yaml": "a2\n", "base/b.yaml": "b\n"}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"base/stale.yaml"}, res.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
}
