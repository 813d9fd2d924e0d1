package tree

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Result says what Write changed.
type Result struct {
	Written, Removed, Unchanged []string
}

// Owned is the part of a repository the generator owns: every file below
// Roots except those below a directory matching one of Except (path.Match
// patterns relative to the repository, e.g. clusters/*/flux-system, which
// `flux bootstrap` writes).
type Owned struct {
	Roots, Except []string
}

// excepted reports whether the directory p belongs to someone else.
func (o Owned) excepted(p string) bool {
	for _, pat := range o.Except {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// Owns reports whether the generator owns file p.
func (o Owned) Owns(p string) bool {
	if !under(p, o.Roots) {
		return false
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if o.excepted(d) {
			return false
		}
	}
	return true
}

// Replace is current as Write leaves it when it writes generated: the
// files current has that the generator does not own, and generated.
func (o Owned) Replace(current, generated Tree) Tree {
	out := Tree{}
	for p, b := range current {
		if !o.Owns(p) {
			out[p] = b
		}
	}
	for p, b := range generated {
		out[p] = b
	}
	return out
}

// Write makes the files the generator owns (relative to dir) exactly the
// files of t. It first writes every changed file next to its
// target and only then renames them into place and removes stale files, so
// a failure before the renames leaves the previous tree untouched, and each
// file is always either wholly old or wholly new. Files whose content is
// unchanged are not touched.
func Write(dir string, t Tree, owned Owned) (Result, error) {
	var res Result
	for _, p := range t.Paths() {
		if !owned.Owns(p) {
			return res, fmt.Errorf("%s is outside the generated directories %v (except %v)", p, owned.Roots, owned.Except)
		}
	}
	type pending struct{ tmp, final string }
	var staged []pending
	cleanup := func() {
		for _, s := range staged {
			os.Remove(s.tmp)
		}
	}
	// Listed before anything is staged, so staged files never count as stale.
	stale, err := staleFiles(dir, t, owned)
	if err != nil {
		return res, err
	}
	for _, p := range t.Paths() {
		final := filepath.Join(dir, filepath.FromSlash(p))
		if old, err := os.ReadFile(final); err == nil && bytes.Equal(old, t[p]) {
			res.Unchanged = append(res.Unchanged, p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			cleanup()
			return res, err
		}
		f, err := os.CreateTemp(filepath.Dir(final), ".generate-*")
		if err != nil {
			cleanup()
			return res, err
		}
		staged = append(staged, pending{f.Name(), final})
		if _, err := f.Write(t[p]); err != nil {
			f.Close()
			cleanup()
			return res, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			cleanup()
			return res, err
		}
		if err := f.Close(); err != nil {
			cleanup()
			return res, err
		}
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			cleanup()
			return res, err
		}
		res.Written = append(res.Written, p)
	}
	for _, s := range staged {
		if err := os.Rename(s.tmp, s.final); err != nil {
			cleanup()
			return res, err
		}
	}
	for _, p := range stale {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil {
			return res, err
		}
		res.Removed = append(res.Removed, p)
	}
	removeEmptyDirs(dir, owned.Roots)
	return res, nil
}

func under(p string, roots []string) bool {
	if p != path.Clean(p) {
		return false // "..", ".", "//" could lead out of the roots
	}
	for _, r := range roots {
		if strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

// staleFiles lists owned files that t does not have.
func staleFiles(dir string, t Tree, owned Owned) ([]string, error) {
	var stale []string
	for _, r := range owned.Roots {
		root := filepath.Join(dir, r)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			rel, _ := filepath.Rel(dir, path)
			rel = filepath.ToSlash(rel)
			if d.IsDir() {
				if owned.excepted(rel) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(filepath.Base(rel), ".generate-") {
				stale = append(stale, rel) // left behind by a crash
				return nil
			}
			if _, ok := t[rel]; !ok {
				stale = append(stale, rel)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(stale)
	return stale, nil
}

func removeEmptyDirs(dir string, roots []string) {
	for _, r := range roots {
		var dirs []string
		filepath.WalkDir(filepath.Join(dir, r), func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i]) // fails, harmlessly, unless empty
		}
	}
}
