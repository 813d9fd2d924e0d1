package review

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Roots are the directories of the repository that decide what lands on a
// cluster; a revision is read from these only.
var Roots = []string{"base", "overlays", "secrets", flux.ClustersDir}

// Render builds what revision repo puts on each cluster, the way Flux does:
// every object of clusters/<cluster>/ (through its kustomization.yaml when
// it has one), and for each Flux Kustomization there, the kustomize build
// of its path with its patches. An environment under overlays/ that no
// Kustomization applies (a revision from before clusters/ existed) is
// built from overlays/<env> as a whole. With only set, scopes of other
// names are not built.
func Render(repo tree.Tree, only string) (Revision, error) {
	return NewRenderer(nil).Render(repo, only)
}

// Renderer renders revisions through one memo of kustomize builds
// (generator.Builds), so that what two revisions (or a generate that
// checked its tree first) share is built and decoded once. Safe for
// concurrent use.
type Renderer struct {
	builds *generator.Builds
	mu     sync.Mutex
	docs   map[resmap.ResMap][]tree.Doc // decoded builds; shared, only read
}

// NewRenderer returns a Renderer using b, or a memo of its own if b is nil.
func NewRenderer(b *generator.Builds) *Renderer {
	if b == nil {
		b = generator.NewBuilds()
	}
	return &Renderer{builds: b, docs: map[resmap.ResMap][]tree.Doc{}}
}

// docsOf is docsOf of m, decoded once.
func (r *Renderer) docsOf(m resmap.ResMap) ([]tree.Doc, error) {
	r.mu.Lock()
	d, ok := r.docs[m]
	r.mu.Unlock()
	if ok {
		return d, nil
	}
	d, err := docsOf(m)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.docs[m] = d
	r.mu.Unlock()
	return d, nil
}

// Render is Render through r's builds.
func (r *Renderer) Render(t tree.Tree, only string) (Revision, error) {
	repo := r.builds.Repo(t)
	rev := Revision{}
	covered := map[string]bool{}
	builds := map[string][]tree.Doc{} // clusters share the infrastructure layers
	var errs []error
	for _, c := range dirs(t, flux.ClustersDir) {
		if err := r.renderCluster(repo, c, only, rev, covered, builds); err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c, err))
		}
	}
	for _, env := range dirs(t, "overlays") {
		dir := path.Join("overlays", env)
		if covered[env] || (only != "" && only != env) {
			continue
		}
		if _, ok := t[path.Join(dir, "kustomization.yaml")]; !ok {
			continue
		}
		m, err := repo.Build(dir)
		if err == nil {
			err = r.add(rev, env, m, dir)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("kustomize build %s: %w", dir, err))
		}
	}
	return rev, errors.Join(errs...)
}

// renderCluster adds cluster c's objects to rev.
func (r *Renderer) renderCluster(built *generator.Repo, c, only string, rev Revision, covered map[string]bool, builds map[string][]tree.Doc) error {
	repo := built.Tree()
	dir := path.Join(flux.ClustersDir, c)
	own, err := r.clusterObjects(built, dir)
	if err != nil {
		return err
	}
	type layer struct {
		doc tree.Doc
		l   flux.Layer
	}
	var layers []layer
	envs := map[string]bool{}
	for _, d := range own {
		if d["kind"] != "Kustomization" || !strings.HasPrefix(fmt.Sprint(d["apiVersion"]), kustomizev1.GroupVersion.Group+"/") {
			continue
		}
		b, err := yaml.Marshal(d)
		if err != nil {
			return err
		}
		var k kustomizev1.Kustomization
		if err := yaml.Unmarshal(b, &k); err != nil {
			return fmt.Errorf("Kustomization %s: %w", k.Name, err)
		}
		if f := unapplied(k.Spec); f != "" {
			return fmt.Errorf("Kustomization %s sets spec.%s, which the diff does not apply: its build would not be what Flux applies", k.Name, f)
		}
		p := strings.TrimPrefix(path.Clean(k.Spec.Path), "./")
		l := flux.Layer{Name: k.Name, Path: p, Env: envOfPath(p), Patches: k.Spec.Patches}
		layers = append(layers, layer{doc: d, l: l})
		if l.Env != "" {
			envs[l.Env] = true
		}
	}
	// The cluster's own objects (its Flux objects, the infrastructure) go
	// with its environment when it runs one; a shared cluster is a scope
	// of its own.
	clusterScope := c + " (cluster)"
	if len(envs) == 1 {
		for e := range envs {
			clusterScope = e
		}
	}
	scopeOf := func(env string) string {
		if env == "" {
			return clusterScope
		}
		return env
	}
	wanted := func(scope string) bool { return only == "" || only == scope || (scope == clusterScope && only == c) }
	for e := range envs {
		covered[e] = true
	}
	byLayer := map[string]bool{}
	for _, l := range layers {
		byLayer[fmt.Sprint(idOf(l.doc))] = true
		if wanted(scopeOf(l.l.Env)) {
			if err := put(rev, scopeOf(l.l.Env), l.doc, "Kustomization "+l.l.Name, ""); err != nil {
				return err
			}
		}
	}
	if wanted(clusterScope) {
		for _, d := range own {
			if byLayer[fmt.Sprint(idOf(d))] {
				continue
			}
			if err := put(rev, clusterScope, d, dir, ""); err != nil {
				return err
			}
		}
	}
	sort.Slice(layers, func(i, j int) bool { return layers[i].l.Name < layers[j].l.Name })
	for _, l := range layers {
		scope := scopeOf(l.l.Env)
		if !wanted(scope) {
			continue
		}
		if l.l.Path == dir {
			continue // flux bootstrap's own Kustomization: it applies this directory, whose objects are above
		}
		if len(repo.Under(l.l.Path)) == 0 {
			return fmt.Errorf("Kustomization %s: path ./%s does not exist in the repository", l.l.Name, l.l.Path)
		}
		key, err := json.Marshal([]any{l.l.Path, l.l.Patches})
		if err != nil {
			return err
		}
		docs, done := builds[string(key)]
		_, hasKustomization := repo[path.Join(l.l.Path, "kustomization.yaml")]
		switch {
		case done:
		case !hasKustomization && len(l.l.Patches) == 0:
			// Flux generates a kustomization.yaml of every manifest there.
			if docs, err = r.clusterObjects(built, l.l.Path); err != nil {
				return fmt.Errorf("Kustomization %s: %w", l.l.Name, err)
			}
			builds[string(key)] = docs
		default:
			m, err := built.Layer(l.l)
			if err == nil {
				docs, err = r.docsOf(m)
			}
			if err != nil {
				return fmt.Errorf("Kustomization %s: kustomize build ./%s: %w", l.l.Name, l.l.Path, err)
			}
			builds[string(key)] = docs
		}
		for _, d := range docs {
			if err := put(rev, scope, d, "Kustomization "+l.l.Name, l.l.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// unapplied names a field of a Flux Kustomization that changes what it
// applies beyond the build of its path and its patches (the only ones the
// diff applies, and the only ones the generator writes), or "".
func unapplied(s kustomizev1.KustomizationSpec) string {
	switch {
	case s.TargetNamespace != "":
		return "targetNamespace"
	case s.NamePrefix != "":
		return "namePrefix"
	case s.NameSuffix != "":
		return "nameSuffix"
	case len(s.Images) > 0:
		return "images"
	case len(s.Components) > 0:
		return "components"
	case s.PostBuild != nil:
		return "postBuild"
	case s.CommonMetadata != nil:
		return "commonMetadata"
	}
	return ""
}

// clusterObjects are the objects Flux's bootstrap Kustomization applies
// from dir: the build of dir/kustomization.yaml if there is one, otherwise
// every YAML file in dir and, recursively, its subdirectories (what Flux
// generates when the kustomization.yaml is missing).
func (r *Renderer) clusterObjects(built *generator.Repo, dir string) ([]tree.Doc, error) {
	repo := built.Tree()
	if _, ok := repo[path.Join(dir, "kustomization.yaml")]; ok {
		m, err := built.Build(dir)
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
		}
		return r.docsOf(m)
	}
	var out []tree.Doc
	for _, p := range repo.Under(dir).Paths() {
		if strings.Contains(p, "/") {
			continue
		}
		if ext := path.Ext(p); ext != ".yaml" && ext != ".yml" {
			continue
		}
		ds, err := decode(repo[path.Join(dir, p)])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(dir, p), err)
		}
		out = append(out, ds...)
	}
	for _, sub := range dirs(repo, dir) {
		ds, err := r.clusterObjects(built, path.Join(dir, sub))
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// envOfPath is the environment a layer path belongs to: overlays/<env>/…
// or secrets/<env>; "" for anything else (the cluster's infrastructure).
func envOfPath(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) >= 2 && (parts[0] == "overlays" || parts[0] == "secrets") {
		return parts[1]
	}
	return ""
}

// dirs lists the immediate subdirectories of dir in repo, sorted.
func dirs(repo tree.Tree, dir string) []string {
	seen := map[string]bool{}
	for _, p := range repo.Under(dir).Paths() {
		if i := strings.Index(p, "/"); i > 0 {
			seen[p[:i]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func (r *Renderer) add(rev Revision, scope string, m resmap.ResMap, from string) error {
	docs, err := r.docsOf(m)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := put(rev, scope, d, from, ""); err != nil {
			return err
		}
	}
	return nil
}

func put(rev Revision, scope string, d tree.Doc, from, layer string) error {
	if rev[scope] == nil {
		rev[scope] = Objects{}
	}
	id := idOf(d)
	if id.Kind == "" || id.Name == "" {
		return fmt.Errorf("%s: an object without kind or metadata.name", from)
	}
	if _, dup := rev[scope][id]; dup {
		return fmt.Errorf("%s: %s is applied twice", from, id)
	}
	rev[scope][id] = Object{Doc: d, Layer: layer}
	return nil
}

// docsOf is a build's objects as generic data, exactly as `kustomize
// build` prints them.
func docsOf(m resmap.ResMap) ([]tree.Doc, error) {
	b, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return decode(b)
}

// decode reads a YAML stream into documents, skipping empty ones.
func decode(b []byte) ([]tree.Doc, error) {
	dec := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []tree.Doc
	for {
		chunk, err := dec.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		var d tree.Doc
		if err := yaml.Unmarshal(chunk, &d); err != nil {
			return nil, err
		}
		if len(d) > 0 {
			out = append(out, d)
		}
	}
}
