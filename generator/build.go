package generator

import (
	"crypto/sha256"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"

	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Build runs kustomize in-process on dir of t (e.g. overlays/prod),
// ordered like `kustomize build` (kinds that others need first).
func Build(t tree.Tree, dir string) (resmap.ResMap, error) {
	return NewBuilds().Repo(t).Build(dir)
}

// BuildYAML is Build as one YAML stream.
func BuildYAML(t tree.Tree, dir string) ([]byte, error) {
	m, err := Build(t, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// Builds runs kustomize builds and keeps their results, so that a build
// is run once however many clusters, layers or revisions ask for it: a
// result is reused for a later build of the same directory (and Flux
// patches) when everything the first build looked at — each file it read,
// each path whose existence or kind it asked about, each directory it
// listed — is the same in the later build's tree, byte for byte (a build
// that globbed or walked is never reused). Safe for concurrent use; the
// ResMaps it returns are shared and must only be read.
type Builds struct {
	mu    sync.Mutex
	keys  map[string]*sync.Mutex // one build of a key at a time
	memo  map[string][]*built
	files int // files in the memo's observations, bounded by maxObserved
}

// built is one build's result and what it observed.
type built struct {
	seen []observation
	m    resmap.ResMap
	err  error
}

// maxObserved bounds the memo: past it, results are no longer kept (a
// process building many unrelated trees, such as the tests, stays small).
const maxObserved = 1 << 20

// NewBuilds returns an empty memo.
func NewBuilds() *Builds {
	return &Builds{keys: map[string]*sync.Mutex{}, memo: map[string][]*built{}}
}

// Warm starts kustomize's one-time set-up (parsing its built-in OpenAPI
// schema: the first strategic-merge patch's cost otherwise) in the
// background, once per process, so that it runs beside other work.
var Warm = sync.OnceFunc(func() { go openapi.Schema() })

// Repo is one repository tree to build from, with the memo of b. t must
// not change while the Repo is in use. Safe for concurrent use.
type Repo struct {
	b  *Builds
	t  tree.Tree
	mu sync.Mutex
	fs []filesys.FileSystem // idle in-memory copies of t, one per concurrent build

	indexOnce sync.Once
	idx       *index
}

func (r *Repo) index() *index {
	r.indexOnce.Do(func() { r.idx = newIndex(r.t) })
	return r.idx
}

// Repo returns a Repo of t.
func (b *Builds) Repo(t tree.Tree) *Repo {
	Warm()
	return &Repo{b: b, t: t}
}

// Tree is the tree r builds from.
func (r *Repo) Tree() tree.Tree { return r.t }

// Build is Build of dir, through the memo.
func (r *Repo) Build(dir string) (resmap.ResMap, error) {
	return r.build(dir, nil)
}

// Layer builds what the Flux Kustomization of layer l applies: the
// kustomization at l.Path with the layer's own patches on top, the way
// kustomize-controller adds spec.patches to the build.
func (r *Repo) Layer(l flux.Layer) (resmap.ResMap, error) {
	if len(l.Patches) == 0 {
		return r.build(l.Path, nil)
	}
	var patches []any
	for _, p := range l.Patches {
		patch := map[string]any{"patch": p.Patch}
		if p.Target != nil {
			patch["target"] = map[string]any{"kind": p.Target.Kind, "name": p.Target.Name}
		}
		patches = append(patches, patch)
	}
	k, err := tree.Marshal(tree.Doc{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []any{"../../" + l.Path},
		"patches":    patches,
	})
	if err != nil {
		return nil, err
	}
	// Named by content: layers of other clusters with the same path and
	// patches share it, those with other patches do not collide.
	sum := sha256.Sum256(k)
	dir := fmt.Sprintf(".flux-build/%x", sum[:8])
	return r.build(dir, tree.Tree{dir + "/kustomization.yaml": k})
}

// build runs kustomize on dir of r's tree with extra files added, or
// returns the memo's result for it.
func (r *Repo) build(dir string, extra tree.Tree) (resmap.ResMap, error) {
	key := dir
	b := r.b
	b.mu.Lock()
	lock := b.keys[key]
	if lock == nil {
		lock = &sync.Mutex{}
		b.keys[key] = lock
	}
	b.mu.Unlock()
	lock.Lock()
	defer lock.Unlock()

	view := r.index()
	if len(extra) > 0 {
		view = view.over(newIndex(extra))
	}
	b.mu.Lock()
	candidates := b.memo[key]
	b.mu.Unlock()
	for _, c := range candidates {
		if c.seen != nil && unchanged(view, c.seen) {
			return c.m, c.err
		}
	}

	fs := r.take()
	defer r.give(fs)
	for p, c := range extra {
		if err := fs.WriteFile("/"+p, c); err != nil {
			return nil, err
		}
	}
	rec := &recorder{FileSystem: fs}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	m, err := krusty.MakeKustomizer(opts).Run(rec, "/"+dir)
	if rec.uncacheable {
		return m, err
	}
	seen := rec.observations(view)
	b.mu.Lock()
	if b.files+len(seen) <= maxObserved {
		b.files += len(seen)
		b.memo[key] = append(b.memo[key], &built{seen: seen, m: m, err: err})
	}
	b.mu.Unlock()
	return m, err
}

// take returns an in-memory copy of r's tree no other build is using.
func (r *Repo) take() filesys.FileSystem {
	r.mu.Lock()
	if n := len(r.fs); n > 0 {
		fs := r.fs[n-1]
		r.fs = r.fs[:n-1]
		r.mu.Unlock()
		return fs
	}
	r.mu.Unlock()
	fs := filesys.MakeFsInMemory()
	for _, p := range r.t.Paths() {
		if err := fs.WriteFile("/"+p, r.t[p]); err != nil {
			panic(err) // a Tree's paths are clean relative paths
		}
	}
	return fs
}

// give returns fs to r's idle copies. Files a layer build added stay:
// each is named by its content, so a later build finds what it would
// write.
func (r *Repo) give(fs filesys.FileSystem) {
	r.mu.Lock()
	r.fs = append(r.fs, fs)
	r.mu.Unlock()
}

// An observation is what a build learnt about one path of the tree: its
// content if a file, the sorted names in it if a directory it listed,
// that it is a directory, or that it does not exist.
type observation struct {
	path  string
	state string
}

// recorder is a kustomize file system that notes every path a build
// looks at; the build's result depends on nothing else.
type recorder struct {
	filesys.FileSystem
	mu          sync.Mutex
	paths       map[string]bool // path → listed
	uncacheable bool
}

func (r *recorder) note(p string, listed bool) {
	p = strings.TrimPrefix(path.Clean(filepath.ToSlash(p)), "/")
	r.mu.Lock()
	if r.paths == nil {
		r.paths = map[string]bool{}
	}
	r.paths[p] = r.paths[p] || listed
	r.mu.Unlock()
}

func (r *recorder) spoil() {
	r.mu.Lock()
	r.uncacheable = true
	r.mu.Unlock()
}

func (r *recorder) Create(p string) (filesys.File, error) { r.spoil(); return r.FileSystem.Create(p) }
func (r *recorder) Mkdir(p string) error                  { r.spoil(); return r.FileSystem.Mkdir(p) }
func (r *recorder) MkdirAll(p string) error               { r.spoil(); return r.FileSystem.MkdirAll(p) }
func (r *recorder) RemoveAll(p string) error              { r.spoil(); return r.FileSystem.RemoveAll(p) }
func (r *recorder) WriteFile(p string, d []byte) error {
	r.spoil()
	return r.FileSystem.WriteFile(p, d)
}
func (r *recorder) Open(p string) (filesys.File, error) {
	r.note(p, false)
	return r.FileSystem.Open(p)
}
func (r *recorder) IsDir(p string) bool  { r.note(p, false); return r.FileSystem.IsDir(p) }
func (r *recorder) Exists(p string) bool { r.note(p, false); return r.FileSystem.Exists(p) }
func (r *recorder) ReadFile(p string) ([]byte, error) {
	r.note(p, false)
	return r.FileSystem.ReadFile(p)
}
func (r *recorder) ReadDir(p string) ([]string, error) {
	r.note(p, true)
	return r.FileSystem.ReadDir(p)
}
func (r *recorder) Glob(pattern string) ([]string, error) {
	r.spoil()
	return r.FileSystem.Glob(pattern)
}
func (r *recorder) Walk(p string, fn filepath.WalkFunc) error {
	r.spoil()
	return r.FileSystem.Walk(p, fn)
}

// CleanedAbs of a path also answers whether each of its parents exists.
func (r *recorder) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	for q := p; ; q = path.Dir(q) {
		r.note(q, false)
		if q == "/" || q == "." || q == "" {
			break
		}
	}
	return r.FileSystem.CleanedAbs(p)
}

// observations are the states in t of every path r saw, sorted by path.
func (r *recorder) observations(t *index) []observation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]observation, 0, len(r.paths)+1)
	for p, listed := range r.paths {
		out = append(out, observation{path: p, state: t.state(p, listed)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	if len(out) == 0 {
		// Seen nothing is still a result: never nil.
		out = append(out, observation{path: ".", state: t.state(".", false)})
	}
	return out
}

// unchanged reports whether every observation holds in t.
func unchanged(t *index, seen []observation) bool {
	for _, o := range seen {
		if t.state(o.path, strings.HasPrefix(o.state, "dir:")) != o.state {
			return false
		}
	}
	return true
}

// index answers what a build can learn about a path of a stack of trees
// (the first that has a file at the path wins; directories are the union).
type index struct {
	trees []tree.Tree
	dirs  []map[string]map[string]bool // per tree: directory ("." for the root) → names in it
}

func newIndex(t tree.Tree) *index {
	dirs := map[string]map[string]bool{}
	for p := range t {
		for d := p; d != "."; {
			parent, name := path.Dir(d), path.Base(d)
			if dirs[parent] == nil {
				dirs[parent] = map[string]bool{}
			}
			if dirs[parent][name] {
				break // its parents are in already
			}
			dirs[parent][name] = true
			d = parent
		}
	}
	return &index{trees: []tree.Tree{t}, dirs: []map[string]map[string]bool{dirs}}
}

// over is x with the files of top over it.
func (x *index) over(top *index) *index {
	return &index{trees: append(append([]tree.Tree{}, top.trees...), x.trees...), dirs: append(append([]map[string]map[string]bool{}, top.dirs...), x.dirs...)}
}

// state is path p as a build sees it (see observation); p is clean and
// relative ("." for the root).
func (x *index) state(p string, listed bool) string {
	if p == "" {
		p = "."
	}
	for _, t := range x.trees {
		if c, ok := t[p]; ok {
			sum := sha256.Sum256(c)
			return "file " + string(sum[:])
		}
	}
	var names []string
	found := false
	for _, d := range x.dirs {
		in, ok := d[p]
		if !ok {
			continue
		}
		found = true
		if !listed {
			return "dir"
		}
		for n := range in {
			names = append(names, n)
		}
	}
	if !found {
		return "absent"
	}
	sort.Strings(names)
	return "dir:" + strings.Join(slices.Compact(names), "/")
}
