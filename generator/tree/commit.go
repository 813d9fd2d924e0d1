package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Staged is a file written in full beside the file it is to become. Both
// paths are relative to the os.Root given to Commit.
type Staged struct {
	Tmp, Final string
}

// testFail, when a test sets it, is asked before each link, rename and
// remove Commit does (op is "link", "rename" or "remove", name the file it
// acts on); an error it returns stands for that operation failing.
var testFail func(op, name string) error

func hook(op, name string) error {
	if testFail != nil {
		return testFail(op, name)
	}
	return nil
}

// CommitError is Commit failing: the file at Path (relative to the root;
// callers may rewrite it to name the file for the reader) could not be
// written, replaced or removed, for Err. When Undo is nil every file is as
// it was before Commit; otherwise undoing failed too, for Undo.
type CommitError struct {
	Path string
	Op   string // "written", "replaced" or "removed"
	Err  error
	Undo error
}

func (e *CommitError) Error() string {
	cause := e.Err.Error()
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		cause = errno.Error()
	}
	fix := "fix the cause"
	switch {
	case errors.Is(e.Err, syscall.EPERM), errors.Is(e.Err, syscall.EACCES):
		fix = "check its permissions and attributes (lsattr, chattr -i)"
	case errors.Is(e.Err, syscall.EROFS):
		fix = "its file system is mounted read-only"
	case errors.Is(e.Err, syscall.ENAMETOOLONG):
		fix = "its name is longer than the file system allows"
	case errors.Is(e.Err, syscall.ENOSPC), errors.Is(e.Err, syscall.EDQUOT):
		fix = "free some space"
	}
	verb := "cannot be " + e.Op
	if e.Undo != nil {
		return fmt.Sprintf("%s %s (%s): %s; putting back the files already changed failed too (%v): the files are partly new, run the command again once the cause is fixed", e.Path, verb, cause, fix, e.Undo)
	}
	return fmt.Sprintf("%s %s (%s): %s; nothing was changed", e.Path, verb, cause, fix)
}

// Commit renames each staged file over its final name and removes each
// file of remove, all or nothing for every failure it can observe: before
// it changes anything it keeps the content of every file it replaces or
// removes under a backup name (prefix followed by random digits, in the
// same directory: a hard link, or a copy where links fail), and when an
// operation fails it puts every file back as it was and removes the
// staged files and the backups, returning a *CommitError. On success the
// backups are removed. A crash part way leaves each file wholly old or
// wholly new, and backups named with prefix.
func Commit(root *os.Root, prefix string, staged []Staged, remove []string) error {
	type change struct {
		final  string
		backup string // "" when final did not exist
		done   bool
	}
	var changes []*change
	var backups []string
	discard := func() {
		for _, s := range staged {
			root.Remove(s.Tmp)
		}
		for _, b := range backups {
			root.Remove(b)
		}
	}
	undo := func() error {
		var errs []error
		for i := len(changes) - 1; i >= 0; i-- {
			c := changes[i]
			if !c.done {
				continue
			}
			var err error
			if c.backup == "" {
				err = root.Remove(c.final)
			} else {
				err = root.Rename(c.backup, c.final)
			}
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		discard()
		return errors.Join(errs...)
	}
	fail := func(name, op string, err error) error {
		return &CommitError{Path: name, Op: op, Err: err, Undo: undo()}
	}
	existed := false
	keep := func(name string, mustExist bool) (string, error) {
		fi, err := root.Lstat(name)
		existed = err == nil
		if errors.Is(err, fs.ErrNotExist) && !mustExist {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		b, err := backup(root, prefix, name, fi)
		if err == nil {
			backups = append(backups, b)
		}
		return b, err
	}
	for _, s := range staged {
		b, err := keep(s.Final, false)
		if err != nil {
			op := "written"
			if existed {
				op = "replaced"
			}
			return fail(s.Final, op, err)
		}
		changes = append(changes, &change{final: s.Final, backup: b})
	}
	rm := make([]*change, len(remove))
	for i, p := range remove {
		b, err := keep(p, true)
		if err != nil {
			return fail(p, "removed", err)
		}
		rm[i] = &change{final: p, backup: b}
	}
	for i, s := range staged {
		err := hook("rename", s.Final)
		if err == nil {
			err = root.Rename(s.Tmp, s.Final)
		}
		if err != nil {
			op := "replaced"
			if changes[i].backup == "" {
				op = "written"
			}
			return fail(s.Final, op, err)
		}
		changes[i].done = true
	}
	for _, c := range rm {
		changes = append(changes, c)
		err := hook("remove", c.final)
		if err == nil {
			err = root.Remove(c.final)
		}
		if err != nil {
			return fail(c.final, "removed", err)
		}
		c.done = true
	}
	for _, b := range backups {
		root.Remove(b)
	}
	return nil
}

// backup keeps the content of name under a new name beside it: a hard
// link, or where that fails a copy with the mode and time of fi.
func backup(root *os.Root, prefix, name string, fi fs.FileInfo) (string, error) {
	dir := filepath.Dir(name)
	for range 10000 {
		b := filepath.Join(dir, prefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		err := hook("link", name)
		if err == nil {
			err = root.Link(name, b)
		}
		if err == nil {
			return b, nil
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		old, err := root.ReadFile(name)
		if err != nil {
			return "", err
		}
		f, err := root.OpenFile(b, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		s := staging{f, b}
		err = s.writeMode(old, fi.Mode().Perm())
		if err == nil {
			err = root.Chtimes(b, fi.ModTime(), fi.ModTime())
		}
		if err != nil {
			root.Remove(b)
			return "", err
		}
		return b, nil
	}
	return "", fmt.Errorf("%s: no free name for a backup file", dir)
}
