package main

import (
	"os"
	"path/filepath"
	"testing"

	"lbl.gov/invenio-gitops/generator/cache"
	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
)

// TestGenerateTakesAnUnchangedInputFromItsCache: a generate whose
// description and sealed files are those of an earlier one writes the
// earlier result (an entry changed on purpose shows that it is the one
// used), and any change of either is computed again.
func TestGenerateTakesAnUnchangedInputFromItsCache(t *testing.T) {
	t.Setenv("PLATFORMCTL_CACHE", t.TempDir())
	dir := sealedFixture(t)
	desc := filepath.Join(dir, "platform.yaml")
	if _, _, status, msg := cli("generate", "-q", "-C", dir); status != 0 {
		t.Fatal(msg)
	}
	const probe = "base/app/kustomization.yaml"
	real, err := os.ReadFile(filepath.Join(dir, probe))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(cache.Open().Dir())
	if err != nil || len(entries) != 1 {
		t.Fatalf("the cache holds %d entries (%v), want 1", len(entries), err)
	}
	key := entries[0].Name()
	c := cache.Open()
	e, ok := c.Get(key)
	if !ok {
		t.Fatal("the entry generate wrote cannot be read")
	}
	e.Tree[probe] = []byte("# from the cache\n")
	if err := c.Put(key, e); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		b, err := os.ReadFile(filepath.Join(dir, probe))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if _, _, status, msg := cli("generate", "-q", "-C", dir); status != 0 {
		t.Fatal(msg)
	}
	if got := read(); got != "# from the cache\n" {
		t.Fatalf("an unchanged input was generated again, not taken from the cache: %s is\n%s", probe, got)
	}

	sealed := filepath.Join(dir, "secrets", "dev", "invenio-redis.yaml")
	for _, c := range []struct {
		name string
		file string
		edit func(string) string
	}{
		{"description changed", desc, func(s string) string { return s + "# a comment\n" }},
		{"a sealed file changed", sealed, func(s string) string { return s + "\n" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(c.file, []byte(c.edit(string(b))), 0o644); err != nil {
				t.Fatal(err)
			}
			// The file as the cache had it, so that only a computed tree
			// puts the real one back.
			if err := os.WriteFile(filepath.Join(dir, probe), []byte("# from the cache\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, _, status, msg := cli("generate", "-q", "-C", dir); status != 0 {
				t.Fatal(msg)
			}
			if got := read(); got != string(real) {
				t.Errorf("a changed input was taken from the cache: %s is\n%s", probe, got)
			}
		})
	}
}

// TestGenerateWithTheCacheOff: PLATFORMCTL_CACHE=off writes no cache.
func TestGenerateWithTheCacheOff(t *testing.T) {
	home := t.TempDir()
	t.Setenv("PLATFORMCTL_CACHE", "off")
	t.Setenv("XDG_CACHE_HOME", home)
	t.Setenv("HOME", home)
	dir := sealedFixture(t)
	if _, _, status, msg := cli("generate", "-q", "-C", dir); status != 0 {
		t.Fatal(msg)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("with the cache off, %s has %d entries", home, len(entries))
	}
}

// sealedFixture is a new repository holding this package's description
// (fixture) with every key of dev sealed.
func sealedFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(fixture(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets", "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "dev", "sealing-cert.pem"), sealingtest.ValidKeyPair(t).CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, status, msg := cli("secrets", "init", "dev", "-C", dir); status != 0 {
		t.Fatal(msg)
	}
	return dir
}
