//go:build unix

package tree

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollInterval is how often a waiting Lock tries again.
const pollInterval = 50 * time.Millisecond

func fmtLockFile(dir string) string { return filepath.Join(dir, LockFile) }

// Lock takes the write lock of the repository dir for me: an flock(2) on
// dir/.platformctl.lock (created for the purpose, and written with me so
// that a command waiting for it can say who holds it). When another
// command holds it, Lock calls waiting once with that holder and tries
// again until wait has passed, then returns a *BusyError naming the
// holder. The lock goes when release is called or the process ends (the
// kernel drops it even after kill -9; a lock file left then is taken over
// by the next command). Other errors: the lock file cannot be created
// (dir not writable), or is a symbolic link, a hard link to another file
// (it has more than one name) or not a regular file: Lock would overwrite
// what it is.
func Lock(dir string, me Holder, wait time.Duration, waiting func(Holder)) (release func(), err error) {
	name := fmtLockFile(dir)
	deadline := time.Now().Add(wait)
	notified := false
	for {
		// O_NOFOLLOW: a link planted at the name must not have a file outside
		// the repository created or emptied.
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
		if errors.Is(err, unix.ELOOP) {
			target, _ := os.Readlink(name)
			return nil, errors.New(linkMessage(name, target))
		}
		if err != nil {
			return nil, fmt.Errorf("cannot lock %s: %w", dir, err)
		}
		// Nor a hard link to another file, or something else than a file,
		// be locked and overwritten: O_NOFOLLOW stops only symbolic links.
		if err := lockable(f, name); err != nil {
			f.Close()
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := io.ReadAll(io.LimitReader(f, 4096))
			f.Close()
			h := unmarshalHolder(b)
			if !time.Now().Before(deadline) {
				return nil, &BusyError{Dir: dir, Holder: h, Waited: wait}
			}
			if !notified && waiting != nil {
				waiting(h)
				notified = true
			}
			time.Sleep(pollInterval)
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", name, err)
		}
		// A holder removes the file before it unlocks: when the name now
		// leads to another file, or to none, this lock guards nothing.
		if !sameFile(f, name) {
			f.Close()
			continue
		}
		if err := f.Truncate(0); err == nil {
			_, err = f.WriteAt(me.marshal(), 0)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot lock %s: %w", name, err)
		}
		return func() {
			if sameFile(f, name) {
				os.Remove(name)
			}
			f.Close()
		}, nil
	}
}

func sameFile(f *os.File, name string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(name)
	return err == nil && os.SameFile(a, b)
}

// lockable refuses the open lock file f unless it is a regular file with
// one name.
func lockable(f *os.File, name string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot lock %s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s), so it is not the lock file this command writes: remove it (rm %s) and run the command again", name, fi.Mode().Type(), name)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%s has %d names (a hard link: it is also another file), so writing the lock there would overwrite that file: remove this name (rm %s; the other names keep the file) and run the command again", name, st.Nlink, name)
	}
	return nil
}
