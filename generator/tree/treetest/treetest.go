// Package treetest holds what tests of commands that write a repository
// share: a snapshot of a directory tree, to prove that a failed command
// changed nothing.
package treetest

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Snapshot records every entry below dir (dir included, as "."), without
// following links: path (slash-separated, relative to dir) → its mode and,
// for a file, its modification time and content; for a symbolic link, its
// target. Directories' times are left out: the lock file every writing
// command creates and removes changes the repository directory's time and
// nothing else (generator/tree.Lock), while a file's time shows a rewrite
// of the same bytes.
func Snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		entry := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			entry += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			entry += " " + fi.ModTime().Format(time.RFC3339Nano) + "\n" + string(b)
		}
		out[filepath.ToSlash(rel)] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
