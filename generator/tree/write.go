package tree

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
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

// excepted reports whether p (a directory, or whatever sits where one of
// Except names a directory) belongs to someone else.
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

// Differences lists, sorted, the paths o owns where current differs from
// generated: a file changed, missing from current, or only in current (one
// Write would remove). Files o does not own are not compared.
func (o Owned) Differences(current, generated Tree) []string {
	var out []string
	for p, b := range generated {
		if c, ok := current[p]; !ok || !bytes.Equal(c, b) {
			out = append(out, p)
		}
	}
	for p := range current {
		if _, ok := generated[p]; !ok && o.Owns(p) {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// tempPrefix starts the names of the files Write stages beside their
// targets; any other file of that name below a root was left by a crash.
const tempPrefix = ".generate-"

// Write makes the files the generator owns (relative to dir) exactly the
// files of t. It first writes every changed file next to its target and
// only then renames them into place and removes stale files (Commit), so
// a failure it can observe, before or during the renames and removals,
// leaves the previous tree untouched (a *CommitError names the file and
// says nothing was changed), and a crash leaves each file either wholly
// old or wholly new. Files whose content is unchanged are not touched.
//
// Before it writes anything it looks at every owned path on disk and
// refuses, naming each, a symbolic link (a root, a directory or a file: a
// write through it could land outside dir, and removing it as stale would
// break the tree), a file where t needs a directory and a directory where
// t has a file. Every operation then goes through an os.Root of dir, so
// that even a link made while Write runs cannot take a write out of dir.
// dir itself may be reached through links. Write does not serialize
// concurrent writers: callers hold Lock.
func Write(dir string, t Tree, owned Owned) (Result, error) {
	st, err := Stage(dir, t, owned)
	if err != nil {
		return Result{}, err
	}
	return st.Commit()
}

// Staging is a Write that has written every new file beside its target
// and changed nothing else yet: Commit puts them in place, Abort removes
// them. Either must be called, once.
type Staging struct {
	root   *os.Root
	owned  Owned
	res    Result // Written and Unchanged; Removed once committed
	staged []Staged
	stale  []string
	made   []string // directories staging created, parents first
}

// Stage is the first half of Write: the checks, and every changed file
// written (and synced) under a temporary name beside its target, for
// Commit to rename. Nothing a reader of the tree sees changes until then;
// on an error nothing is left behind.
func Stage(dir string, t Tree, owned Owned) (*Staging, error) {
	for _, p := range t.Paths() {
		if !owned.Owns(p) {
			return nil, fmt.Errorf("%s is outside the generated directories %v (except %v)", p, owned.Roots, owned.Except)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	st := &Staging{root: root, owned: owned}
	// Listed before anything is staged, so staged files never count as stale.
	disk, err := scan(root.FS(), owned)
	if err != nil {
		root.Close()
		return nil, err
	}
	if err := disk.check(dir, t); err != nil {
		root.Close()
		return nil, err
	}
	st.stale = disk.stale(t)

	var changed []string
	for _, p := range t.Paths() {
		final := filepath.FromSlash(p)
		if old, err := root.ReadFile(final); err == nil && bytes.Equal(old, t[p]) {
			st.res.Unchanged = append(st.res.Unchanged, p)
			continue
		}
		for _, d := range prefixes(path.Dir(p)) {
			if _, ok := disk.types[d]; !ok {
				disk.types[d] = fs.ModeDir
				st.made = append(st.made, d)
			}
		}
		if err := root.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			st.Abort()
			return nil, err
		}
		changed = append(changed, p)
	}
	// Each staged file is written and synced to disk before any is renamed
	// (Commit); the syncs wait on the disk, not the CPU, so the files are
	// staged side by side. The first error in path order is returned.
	files := make([]staging, len(changed))
	errs := make([]error, len(changed))
	var g errgroup.Group
	g.SetLimit(stagingWorkers)
	for i, p := range changed {
		g.Go(func() error {
			f, err := createTemp(root, filepath.Dir(filepath.FromSlash(p)))
			if err == nil {
				files[i] = f
				err = f.write(t[p])
			}
			errs[i] = err
			return nil
		})
	}
	g.Wait()
	for i, p := range changed {
		if files[i].f != nil {
			st.staged = append(st.staged, Staged{Tmp: files[i].tmp, Final: filepath.FromSlash(p)})
		}
	}
	for _, err := range errs {
		if err != nil {
			st.Abort()
			return nil, err
		}
	}
	st.res.Written = changed
	return st, nil
}

// Abort removes what Stage wrote.
func (st *Staging) Abort() {
	for _, s := range st.staged {
		st.root.Remove(s.Tmp)
	}
	for i := len(st.made) - 1; i >= 0; i-- {
		st.root.Remove(filepath.FromSlash(st.made[i]))
	}
	st.root.Close()
}

// Commit is the second half of Write: it renames the staged files over
// their targets and removes the stale ones, all or nothing (Commit).
func (st *Staging) Commit() (Result, error) {
	defer st.root.Close()
	remove := make([]string, len(st.stale))
	for i, p := range st.stale {
		remove[i] = filepath.FromSlash(p)
	}
	if err := Commit(st.root, tempPrefix, st.staged, remove); err != nil {
		// Commit removed the staged files.
		for i := len(st.made) - 1; i >= 0; i-- {
			st.root.Remove(filepath.FromSlash(st.made[i]))
		}
		var ce *CommitError
		if errors.As(err, &ce) {
			ce.Path = filepath.ToSlash(ce.Path)
		}
		return Result{}, err
	}
	res := st.res
	res.Removed = append(res.Removed, st.stale...)
	removeEmptyDirs(st.root, st.owned.Roots)
	return res, nil
}

// stagingWorkers is how many files are staged at once.
const stagingWorkers = 64

// staging is a new file beside a target.
type staging struct {
	f   *os.File
	tmp string // relative to the root
}

// createTemp is os.CreateTemp inside root (which has none): a new file
// named .generate-<random> in dir.
func createTemp(root *os.Root, dir string) (staging, error) {
	for range 10000 {
		tmp := filepath.Join(dir, tempPrefix+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return staging{f, tmp}, err
	}
	return staging{}, fmt.Errorf("%s: no free name for a temporary file", dir)
}

// write fills and closes the staged file; its mode is set on the open file
// (not through the umask) so the result does not depend on who runs it.
func (s staging) write(b []byte) error { return s.writeMode(b, 0o644) }

func (s staging) writeMode(b []byte, perm fs.FileMode) error {
	_, err := s.f.Write(b)
	if err == nil {
		err = s.f.Sync()
	}
	if err == nil {
		err = s.f.Chmod(perm)
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
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

// onDisk is what is below the owned roots: slash path relative to the
// repository → type bits (fs.ModeDir, fs.ModeSymlink, 0 for a file, …),
// and the path of each symbolic link found with its target.
type onDisk struct {
	roots []string
	types map[string]fs.FileMode
	links map[string]string
}

// scan lists every entry below the owned roots of fsys, and every
// component of a root's own path, without following links. Excepted
// directories are not entered; whatever sits at an excepted path (a link
// included) is someone else's and not listed.
func scan(fsys fs.FS, owned Owned) (onDisk, error) {
	d := onDisk{roots: owned.Roots, types: map[string]fs.FileMode{}, links: map[string]string{}}
	note := func(p string, typ fs.FileMode) error {
		d.types[p] = typ
		if typ&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			d.links[p] = target
		}
		return nil
	}
	for _, r := range owned.Roots {
		// The root's own components first: fs.WalkDir would follow a root
		// that is a link, and so would every method of os.Root on a path
		// through a link that stays inside the repository.
		walk := true
		for _, c := range prefixes(r) {
			fi, err := fs.Lstat(fsys, c)
			if errors.Is(err, fs.ErrNotExist) {
				walk = false
				break
			}
			if err != nil {
				return d, err
			}
			if err := note(c, fi.Mode().Type()); err != nil {
				return d, err
			}
			if !fi.IsDir() {
				walk = false
				break
			}
		}
		if !walk {
			continue
		}
		err := fs.WalkDir(fsys, r, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != r && owned.excepted(p) {
				if e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			return note(p, e.Type())
		})
		if err != nil {
			return d, err
		}
	}
	return d, nil
}

// prefixes returns a, a/b, a/b/c for a/b/c.
func prefixes(p string) []string {
	var out []string
	for i, c := range p {
		if c == '/' {
			out = append(out, p[:i])
		}
	}
	return append(out, p)
}

// check refuses every symbolic link below the roots, and every entry whose
// type stands in the way of t, one line each, naming the path below dir.
func (d onDisk) check(dir string, t Tree) error {
	name := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }
	var msgs []string
	for _, p := range sortedKeys(d.links) {
		msgs = append(msgs, linkMessage(name(p), d.links[p]))
	}
	blocked := map[string]bool{}
	for _, p := range t.Paths() {
		for _, q := range prefixes(p) {
			typ, ok := d.types[q]
			switch {
			case !ok || typ&fs.ModeSymlink != 0 || blocked[q]:
			case q == p && typ.IsDir():
				blocked[q] = true
				msgs = append(msgs, fmt.Sprintf("%s is a directory where the generator writes a file: move it away and run the command again", name(q)))
			case q != p && !typ.IsDir():
				blocked[q] = true
				msgs = append(msgs, fmt.Sprintf("%s is not a directory, but the generator writes %s below it: move it away and run the command again", name(q), p))
			}
		}
	}
	if len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "\n"))
	}
	return nil
}

func linkMessage(name, target string) string {
	return fmt.Sprintf("%s is a symbolic link (to %s): nothing is written through a link, so that every write stays inside the repository; remove the link (rm %s) and run the command again", name, target, name)
}

// stale lists the owned files t does not have, and files a crash left
// while staged. A root that is a file is not below itself, so not owned.
func (d onDisk) stale(t Tree) []string {
	var stale []string
	for p, typ := range d.types {
		if typ.IsDir() || !under(p, d.roots) {
			continue
		}
		if _, ok := t[p]; !ok || strings.HasPrefix(path.Base(p), tempPrefix) {
			stale = append(stale, p)
		}
	}
	sort.Strings(stale)
	return stale
}

// CheckLinks refuses, naming each, every symbolic link at or below the
// owned roots in dir (the components of a root's path included; excepted
// directories are not looked into). Write runs it itself; commands that
// write elsewhere through other means (secrets/<env>/) run it first.
func (o Owned) CheckLinks(dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	d, err := scan(root.FS(), o)
	if err != nil {
		return err
	}
	return d.check(dir, nil)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func removeEmptyDirs(root *os.Root, roots []string) {
	for _, r := range roots {
		var dirs []string
		fs.WalkDir(root.FS(), r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			root.Remove(filepath.FromSlash(dirs[i])) // fails, harmlessly, unless empty
		}
	}
}
