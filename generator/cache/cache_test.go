package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/tree"
)

func TestGetReturnsWhatPutStored(t *testing.T) {
	c := &Cache{dir: t.TempDir()}
	e := Entry{Tree: tree.Tree{"base/a.yaml": []byte("a: 1\n"), "overlays/dev/b.yaml": nil}, Warnings: []string{"w"}}
	if err := c.Put("k1", e); err != nil {
		t.Fatal(err)
	}
	got, ok := c.Get("k1")
	if !ok {
		t.Fatal("no entry after Put")
	}
	if d := cmp.Diff(e, got, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); d != "" {
		t.Errorf("entry (-put +got):\n%s", d)
	}
	if _, ok := c.Get("k2"); ok {
		t.Error("an entry for a key never put")
	}
}

func TestDamagedEntriesAreMisses(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(b []byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
		{"one byte changed", func(b []byte) []byte { b[len(b)-10] ^= 0xff; return b }},
		{"empty", func([]byte) []byte { return nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cc := &Cache{dir: dir}
			if err := cc.Put("k", Entry{Tree: tree.Tree{"base/a.yaml": []byte("some content, long enough to damage\n")}}); err != nil {
				t.Fatal(err)
			}
			name := filepath.Join(dir, "k")
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, c.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			if e, ok := cc.Get("k"); ok {
				t.Errorf("a damaged entry was returned: %v", e)
			}
		})
	}
}

func TestKeyCoversEveryPart(t *testing.T) {
	base := []Part{{"description", []byte("site: {name: x}\n")}, {"secrets/dev/a.yaml", []byte("a")}}
	k0, err := Key(base...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		parts []Part
		same  bool
	}{
		{"same parts", []Part{{"description", []byte("site: {name: x}\n")}, {"secrets/dev/a.yaml", []byte("a")}}, true},
		{"description changed", []Part{{"description", []byte("site: {name: y}\n")}, {"secrets/dev/a.yaml", []byte("a")}}, false},
		{"sealed file changed", []Part{{"description", []byte("site: {name: x}\n")}, {"secrets/dev/a.yaml", []byte("b")}}, false},
		{"sealed file renamed", []Part{{"description", []byte("site: {name: x}\n")}, {"secrets/dev/b.yaml", []byte("a")}}, false},
		{"sealed file added", append(append([]Part{}, base...), Part{"secrets/dev/c.yaml", nil}), false},
		{"bytes moved between name and content", []Part{{"description", []byte("site: {name: x}\n")}, {"secrets/dev/a.yamla", nil}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := Key(c.parts...)
			if err != nil {
				t.Fatal(err)
			}
			if (k == k0) != c.same {
				t.Errorf("key equal to the base key: %v, want %v", k == k0, c.same)
			}
		})
	}
}

func TestTrimKeepsTheMostRecentlyUsed(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{dir: dir}
	key := func(i int) string { return fmt.Sprintf("%064x", i) } // as Key's names
	past := time.Now().Add(-time.Hour)
	for i := range Keep {
		if err := c.Put(key(i), Entry{}); err != nil {
			t.Fatal(err)
		}
		// Oldest first, and the first one used since.
		at := past.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(filepath.Join(dir, key(i)), at, at); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := c.Get(key(0)); !ok {
		t.Fatal("entry 0 missing")
	}
	if err := c.Put(key(Keep), Entry{}); err != nil {
		t.Fatal(err)
	}
	for i := range Keep + 1 {
		_, err := os.Stat(filepath.Join(dir, key(i)))
		if kept, want := err == nil, i != 1; kept != want {
			t.Errorf("entry %d kept: %v, want %v", i, kept, want)
		}
	}
}

func TestOffIsNil(t *testing.T) {
	t.Setenv("PLATFORMCTL_CACHE", "off")
	c := Open()
	if c != nil {
		t.Fatalf("PLATFORMCTL_CACHE=off gave a cache at %s", c.Dir())
	}
	if _, ok := c.Get("k"); ok {
		t.Error("a cache that is off had an entry")
	}
	if err := c.Put("k", Entry{}); err != nil {
		t.Errorf("Put on a cache that is off: %v", err)
	}
	dir := t.TempDir()
	t.Setenv("PLATFORMCTL_CACHE", dir)
	if c := Open(); c == nil || c.Dir() != dir {
		t.Errorf("PLATFORMCTL_CACHE=%s gave %v", dir, c)
	}
}
