// Package cache keeps what `platformctl generate` produced and proved for
// an input, keyed by the content of that input and of the program, so
// that generating again from an unchanged description and unchanged
// sealed secrets does not compute and check the same tree twice (as the
// Go build cache does for compiles).
//
// An entry is the generated tree and the warnings the checks gave. It is
// written only after every check passed, and it is found only by a key
// that covers everything the result depends on: the program's own build
// ID (another build of platformctl never shares entries), the description
// file and every file under secrets/<env>/ the generator read. The
// directory is $PLATFORMCTL_CACHE, or platformctl/ under the user's cache
// directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux);
// PLATFORMCTL_CACHE=off turns the cache off. Removing the directory is
// always safe.
package cache

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"lbl.gov/invenio-gitops/generator/tree"
)

// Keep is how many entries the cache keeps (the most recently used).
const Keep = 8

// Entry is one generate's result.
type Entry struct {
	Tree     tree.Tree
	Warnings []string
}

// Cache is a cache directory; a nil *Cache is a cache that is off.
type Cache struct {
	dir string
}

// Open returns the cache at $PLATFORMCTL_CACHE or the user's cache
// directory, or nil (off) when PLATFORMCTL_CACHE=off or no cache
// directory can be found.
func Open() *Cache {
	dir := os.Getenv("PLATFORMCTL_CACHE")
	switch dir {
	case "off":
		return nil
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(base, "platformctl")
	}
	return &Cache{dir: dir}
}

// Dir is the cache's directory.
func (c *Cache) Dir() string { return c.dir }

// Key is the key of an input: the program's build ID followed by each
// named part (a name and its content), in the order given.
func Key(parts ...Part) (string, error) {
	id, err := programID()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	write := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte("platformctl generate v1"))
	write(id)
	for _, p := range parts {
		write([]byte(p.Name))
		write(p.Content)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Part is one input of a key.
type Part struct {
	Name    string
	Content []byte
}

// TreeParts are the files of t as parts, sorted by path.
func TreeParts(t tree.Tree) []Part {
	out := make([]Part, 0, len(t))
	for _, p := range t.Paths() {
		out = append(out, Part{Name: p, Content: t[p]})
	}
	return out
}

// stored is an entry as written: its content and a checksum of it.
type stored struct {
	Sum   []byte
	Entry []byte
}

// Get returns the entry of key, if the cache has an intact one.
func (c *Cache) Get(key string) (Entry, bool) {
	if c == nil {
		return Entry{}, false
	}
	name := filepath.Join(c.dir, key)
	f, err := os.Open(name)
	if err != nil {
		return Entry{}, false
	}
	defer f.Close()
	var s stored
	if err := gob.NewDecoder(f).Decode(&s); err != nil {
		return Entry{}, false
	}
	sum := sha256.Sum256(s.Entry)
	if !bytes.Equal(sum[:], s.Sum) {
		return Entry{}, false
	}
	var e Entry
	if err := gob.NewDecoder(bytes.NewReader(s.Entry)).Decode(&e); err != nil {
		return Entry{}, false
	}
	now := time.Now()
	os.Chtimes(name, now, now) // most recently used; best effort
	return e, true
}

// Put stores e under key (atomically: a reader sees the old entry, the
// new one or none) and removes all but the Keep most recently used
// entries. A cache that cannot be written is not an error for generate:
// Put's error is for the caller to report as a warning.
func (c *Cache) Put(key string, e Entry) error {
	if c == nil {
		return nil
	}
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(e); err != nil {
		return err
	}
	sum := sha256.Sum256(b.Bytes())
	var out bytes.Buffer
	if err := gob.NewEncoder(&out).Encode(stored{Sum: sum[:], Entry: b.Bytes()}); err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(out.Bytes())
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(c.dir, key)); err != nil {
		os.Remove(f.Name())
		return err
	}
	return c.trim()
}

// trim removes all but the Keep most recently used entries.
func (c *Cache) trim() error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type file struct {
		name string
		mod  time.Time
	}
	var files []file
	for _, e := range entries {
		if !e.Type().IsRegular() || len(e.Name()) != sha256.Size*2 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, file{e.Name(), info.ModTime()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	var errs []error
	for _, f := range files[min(Keep, len(files)):] {
		if err := os.Remove(filepath.Join(c.dir, f.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// programID identifies the running program's build: the Go build ID the
// linker writes into an ELF executable (a content hash of everything that
// went into the build), else a SHA-256 of the executable file.
var programID = sync.OnceValues(func() ([]byte, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cache: the program's executable: %w", err)
	}
	if f, err := elf.Open(exe); err == nil {
		defer f.Close()
		if s := f.Section(".note.go.buildid"); s != nil {
			if b, err := s.Data(); err == nil && len(b) > 16 {
				return b, nil
			}
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return nil, fmt.Errorf("cache: the program's executable: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("cache: the program's executable: %w", err)
	}
	return h.Sum(nil), nil
})
