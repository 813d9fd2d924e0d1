//go:build unix

package tree

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"lbl.gov/invenio-gitops/generator/tree/treetest"
)

// TestLockSerializesWriters: many writers at once on one repository, each
// with its own tree (so each removes the others' files as stale), every
// one under Lock: none fails, and the repository ends as exactly the tree
// of the last one. Without the lock a writer removes another's staged
// files as a crash's leftovers and that one's rename fails.
func TestLockSerializesWriters(t *testing.T) {
	dir := t.TempDir()
	const writers = 24
	trees := make([]Tree, writers)
	for i := range trees {
		trees[i] = Tree{}
		for j := range 10 {
			trees[i][fmt.Sprintf("base/shared-%02d.yaml", j)] = fmt.Appendf(nil, "writer %d\n", i)
			trees[i][fmt.Sprintf("overlays/w%02d/f%02d.yaml", i, j)] = []byte("mine\n")
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last = -1
		errs []error
	)
	for i := range writers {
		wg.Go(func() {
			release, err := Lock(dir, Me("generate"), time.Minute, nil)
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				return
			}
			defer release()
			_, err = Write(dir, trees[i], roots)
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("writer %d: %w", i, err))
			}
			last = i
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for p, b := range trees[last] {
		want[p] = string(b)
	}
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("repository is not the last writer's tree (-want +got):\n%s", diff)
	}
}

// TestLockNamesItsHolder: a second command waits, told once who holds
// the lock, then gives up naming the holder. Once released the lock file
// is gone and the lock free.
func TestLockNamesItsHolder(t *testing.T) {
	dir := t.TempDir()
	before := treetest.Snapshot(t, dir)
	holder := Holder{Command: "secrets rotate", PID: 4242, Host: "lab-ws", Since: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	release, err := Lock(dir, holder, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var told []Holder
	_, err = Lock(dir, Me("generate"), 200*time.Millisecond, func(h Holder) { told = append(told, h) })
	want := dir + " is being written by platformctl secrets rotate (pid 4242 on lab-ws, since 2026-12-01T10:00:00Z); waited 200ms: run the command again when it has finished (its lock, " + filepath.Join(dir, ".platformctl.lock") + ", is released when that process ends)"
	if err == nil || err.Error() != want {
		t.Fatalf("second Lock: %v, want\n%s", err, want)
	}
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Errorf("error is a %T, want *BusyError", err)
	}
	if diff := cmp.Diff([]Holder{holder}, told); diff != "" {
		t.Errorf("waiting told (-want +got):\n%s", diff)
	}
	release()
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Errorf("the lock left something (-before +after):\n%s", diff)
	}
	release, err = Lock(dir, Me("generate"), 0, nil)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release()
}

// TestLockAcrossProcesses: the lock of another process is seen, with its
// pid, and a process killed with the lock (kill -9, leaving its lock
// file) no longer holds it.
func TestLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "TREE_LOCK_HELPER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	_, err = Lock(dir, Me("generate"), 0, nil)
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("Lock while another process holds it: %v", err)
	}
	if busy.Holder.PID != cmd.Process.Pid || busy.Holder.Command != "generate" {
		t.Errorf("holder %+v, want pid %d running generate", busy.Holder, cmd.Process.Pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Wait()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatalf("the killed process's lock file: %v", err)
	}
	release, err := Lock(dir, Me("generate"), 0, nil)
	if err != nil {
		t.Fatalf("Lock after its holder was killed: %v", err)
	}
	release()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !os.IsNotExist(err) {
		t.Errorf("lock file left after release: %v", err)
	}
}

// TestLockHelperProcess is the other process of TestLockAcrossProcesses:
// it takes the lock, says so, and holds it until killed.
func TestLockHelperProcess(t *testing.T) {
	dir := os.Getenv("TREE_LOCK_HELPER")
	if dir == "" {
		t.Skip("run by TestLockAcrossProcesses")
	}
	if _, err := Lock(dir, Me("generate"), 0, nil); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin) // until the test ends, should it not kill this
	os.Exit(0)
}

// TestLockRefusesALink: a link planted at the lock file's name is
// refused, and its target neither created nor emptied.
func TestLockRefusesALink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	put(t, outside, "victim", "keep\n")
	name := filepath.Join(dir, LockFile)
	if err := os.Symlink(filepath.Join(outside, "victim"), name); err != nil {
		t.Fatal(err)
	}
	_, err := Lock(dir, Me("generate"), 0, nil)
	want := name + " is a symbolic link (to " + filepath.Join(outside, "victim") + "): nothing is written through a link, so that every write stays inside the repository; remove the link (rm " + name + ") and run the command again"
	if err == nil || err.Error() != want {
		t.Fatalf("Lock: %v, want\n%s", err, want)
	}
	if diff := cmp.Diff(map[string]string{"victim": "keep\n"}, files(t, outside)); diff != "" {
		t.Errorf("the link's target changed (-want +got):\n%s", diff)
	}
}

// TestLockRefusesWhatIsNotItsFile: a hard link to another file of the
// repository, or a named pipe, at the lock file's name is refused before
// anything is written, and the other file keeps its content.
func TestLockRefusesWhatIsNotItsFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(dir, name string) error
		want string // %[1]s is the lock file's path
	}{
		{
			name: "hard link",
			make: func(dir, name string) error {
				return os.Link(filepath.Join(dir, "secrets/dev/invenio-redis.yaml"), name)
			},
			want: "%[1]s has 2 names (a hard link: it is also another file), so writing the lock there would overwrite that file: remove this name (rm %[1]s; the other names keep the file) and run the command again",
		},
		{
			name: "named pipe",
			make: func(dir, name string) error { return unix.Mkfifo(name, 0o644) },
			want: "%[1]s is not a regular file (p---------), so it is not the lock file this command writes: remove it (rm %[1]s) and run the command again",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			put(t, dir, "secrets/dev/invenio-redis.yaml", "sealed\n")
			name := filepath.Join(dir, LockFile)
			if err := tc.make(dir, name); err != nil {
				t.Fatal(err)
			}
			_, err := Lock(dir, Me("generate"), 0, nil)
			want := fmt.Sprintf(tc.want, name)
			if err == nil || err.Error() != want {
				t.Fatalf("Lock: %v, want\n%s", err, want)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "secrets/dev/invenio-redis.yaml")); err != nil || string(b) != "sealed\n" {
				t.Errorf("the linked file holds %q (%v), want %q", b, err, "sealed\n")
			}
		})
	}
}
