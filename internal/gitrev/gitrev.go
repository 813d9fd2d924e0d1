// Package gitrev reads a revision of the repository into memory: the files
// of a git commit (through the git command, read-only) or of the working
// tree, below a few top-level directories. It is the only I/O the diff
// needs; everything else works on the trees it returns.
package gitrev

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"lbl.gov/invenio-gitops/generator/tree"
)

// git runs git in dir and returns its standard output.
func git(dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Resolve returns the full commit id of rev in the repository at dir.
func Resolve(dir, rev string) (string, error) {
	out, err := git(dir, nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%s is not a commit of %s", rev, dir)
	}
	return strings.TrimSpace(string(out)), nil
}

// DefaultBase is the revision a change is compared with when none is
// given: the merge base of HEAD with the first of main, origin/main,
// master, origin/master that exists. It returns the name it used too.
func DefaultBase(dir string) (name, commit string, err error) {
	for _, branch := range []string{"main", "origin/main", "master", "origin/master"} {
		if _, err := Resolve(dir, branch); err != nil {
			continue
		}
		out, err := git(dir, nil, "merge-base", "HEAD", branch)
		if err != nil {
			return "", "", err
		}
		return "merge-base(HEAD, " + branch + ")", strings.TrimSpace(string(out)), nil
	}
	return "", "", errors.New("no main or master branch to compare with: give --base <rev>")
}

// Read returns the files of commit rev below roots, with paths relative to
// dir (which may be a subdirectory of the repository).
func Read(dir, rev string, roots []string) (tree.Tree, error) {
	commit, err := Resolve(dir, rev)
	if err != nil {
		return nil, err
	}
	// Without --full-tree, ls-tree lists below dir, relative to it.
	list, err := git(dir, nil, append([]string{"ls-tree", "-r", "-z", commit, "--"}, roots...)...)
	if err != nil {
		return nil, err
	}
	var paths, blobs []string
	for _, entry := range strings.Split(string(list), "\x00") {
		if entry == "" {
			continue
		}
		meta, p, ok := strings.Cut(entry, "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" {
			continue // submodules
		}
		if f[0] == "120000" {
			return nil, fmt.Errorf("%s at %s is a symbolic link; the diff reads regular files only", p, rev)
		}
		paths = append(paths, p)
		blobs = append(blobs, f[2])
	}
	out := tree.Tree{}
	if len(blobs) == 0 {
		return out, nil
	}
	contents, err := git(dir, strings.NewReader(strings.Join(blobs, "\n")+"\n"), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	r := bufio.NewReader(bytes.NewReader(contents))
	for i, p := range paths {
		header, err := r.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("git cat-file: %w", err)
		}
		f := strings.Fields(header)
		if len(f) != 3 || f[0] != blobs[i] {
			return nil, fmt.Errorf("git cat-file: unexpected %q for %s", strings.TrimSpace(header), p)
		}
		size, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+1) // the content and its trailing newline
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("git cat-file %s: %w", p, err)
		}
		out[p] = b[:size]
	}
	return out, nil
}

// ReadDisk returns the files of the working tree at dir below roots
// (regular files only; a missing root is empty).
func ReadDisk(dir string, roots []string) (tree.Tree, error) {
	out := tree.Tree{}
	for _, root := range roots {
		err := filepath.WalkDir(filepath.Join(dir, root), func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == filepath.Join(dir, root) {
				return fs.SkipAll
			}
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[path.Clean(filepath.ToSlash(rel))] = b
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
