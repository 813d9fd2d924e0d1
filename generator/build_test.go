package generator

import (
	"strings"
	"sync"
	"testing"

	kustomize "github.com/fluxcd/pkg/apis/kustomize"
	"sigs.k8s.io/kustomize/api/resmap"

	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// memoTree is a small repository: an overlay of a base, and files the
// overlay's build never reads.
func memoTree() tree.Tree {
	return tree.Tree{
		"base/kustomization.yaml":     []byte("resources: [cm.yaml]\n"),
		"base/cm.yaml":                []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"),
		"overlay/kustomization.yaml":  []byte("resources: [../base]\nnamespace: ns1\n"),
		"other/kustomization.yaml":    []byte("resources: [x.yaml]\n"),
		"other/x.yaml":                []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
		"base/notes/unrelated.txt":    []byte("not a manifest\n"),
		"overlay/patches/unused.yaml": []byte("# not referenced\n"),
	}
}

// TestBuildsReuseOnlyWhatTheySaw: a build is reused in another tree
// exactly when everything it read is the same there.
func TestBuildsReuseOnlyWhatTheySaw(t *testing.T) {
	for _, c := range []struct {
		name   string
		change tree.Tree // files set in the second tree (nil content: removed)
		reused bool
	}{
		{"same tree", nil, true},
		{"a file it did not read changed", tree.Tree{"other/x.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n")}, true},
		{"an unreferenced file beside it changed", tree.Tree{"overlay/patches/unused.yaml": []byte("# changed\n")}, true},
		{"a file of another directory added", tree.Tree{"elsewhere/new.yaml": []byte("a: b\n")}, true},
		{"a resource it read changed", tree.Tree{"base/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: w}\n")}, false},
		{"its kustomization changed", tree.Tree{"overlay/kustomization.yaml": []byte("resources: [../base]\nnamespace: ns2\n")}, false},
		{"a second kustomization file appeared", tree.Tree{"overlay/kustomization.yml": []byte("resources: []\n")}, false},
		{"the base it read removed", tree.Tree{"base/cm.yaml": nil}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilds()
			first, err := b.Repo(memoTree()).Build("overlay")
			if err != nil {
				t.Fatal(err)
			}
			second := memoTree()
			for p, content := range c.change {
				if content == nil {
					delete(second, p)
				} else {
					second[p] = content
				}
			}
			again, err := b.Repo(second).Build("overlay")
			fresh, freshErr := NewBuilds().Repo(second).Build("overlay")
			if reused := err == nil && again == first; reused != c.reused {
				t.Errorf("reused: %v, want %v", reused, c.reused)
			}
			// Whatever the memo did, the result is the one a fresh build gives.
			if (err == nil) != (freshErr == nil) || (err == nil && yamlOf(t, again) != yamlOf(t, fresh)) {
				t.Errorf("memo result differs from a fresh build: %v / %v", err, freshErr)
			}
		})
	}
}

func yamlOf(t *testing.T, m resmap.ResMap) string {
	t.Helper()
	b, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLayersWithOtherPatchesAreOtherBuilds: two Flux layers of the same
// path differ by their patches, and the same patches give the same build.
func TestLayersWithOtherPatchesAreOtherBuilds(t *testing.T) {
	patch := func(v string) []kustomize.Patch {
		return []kustomize.Patch{{
			Patch:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: " + v + "}\n",
			Target: &kustomize.Selector{Kind: "ConfigMap", Name: "a"},
		}}
	}
	b := NewBuilds()
	r := b.Repo(memoTree())
	build := func(name string, p []kustomize.Patch) resmap.ResMap {
		m, err := r.Layer(flux.Layer{Name: name, Path: "overlay", Patches: p})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	x, y, x2, none := build("x", patch("one")), build("y", patch("two")), build("x-again", patch("one")), build("plain", nil)
	if x == y || !strings.Contains(yamlOf(t, x), "k: one") || !strings.Contains(yamlOf(t, y), "k: two") {
		t.Errorf("layers with other patches share a build:\n%s---\n%s", yamlOf(t, x), yamlOf(t, y))
	}
	if x != x2 {
		t.Error("the same path and patches were built twice")
	}
	if strings.Contains(yamlOf(t, none), "k: one") {
		t.Errorf("a layer without patches got another's:\n%s", yamlOf(t, none))
	}
}

// TestBuildsAreSafeForConcurrentUse: many builds of shared and distinct
// keys at once give each what a build alone gives (run with -race).
func TestBuildsAreSafeForConcurrentUse(t *testing.T) {
	b := NewBuilds()
	want := map[string]string{}
	for _, dir := range []string{"overlay", "base", "other"} {
		m, err := NewBuilds().Repo(memoTree()).Build(dir)
		if err != nil {
			t.Fatal(err)
		}
		want[dir] = yamlOf(t, m)
	}
	var wg sync.WaitGroup
	for i := range 24 {
		dir := []string{"overlay", "base", "other"}[i%3]
		r := b.Repo(memoTree())
		wg.Go(func() {
			m, err := r.Build(dir)
			if err != nil {
				t.Error(err)
				return
			}
			b, err := m.AsYaml()
			if err != nil || string(b) != want[dir] {
				t.Errorf("%s built concurrently differs: %v\n%s", dir, err, b)
			}
		})
	}
	wg.Wait()
}
