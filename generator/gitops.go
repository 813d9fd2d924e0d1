package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/resmap"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// BuildLayer builds what the Flux Kustomization of layer l applies (see
// Repo.Layer), without a memo.
func BuildLayer(repo tree.Tree, l flux.Layer) (resmap.ResMap, error) {
	return NewBuilds().Repo(repo).Layer(l)
}

// ObjectID identifies an object in a cluster: group, kind, namespace, name.
type ObjectID string

func objectID(apiVersion, kind, namespace, name string) ObjectID {
	group := ""
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	return ObjectID(fmt.Sprintf("%s/%s %s/%s", group, kind, namespace, name))
}

// LayerObjects is what each layer of a cluster applies.
type LayerObjects map[string][]ObjectID

// CheckGitOps proves the Flux wiring of p against the repository repo (the
// generated tree plus secrets/): in every cluster each Kustomization's path
// exists and builds, every dependsOn names a Kustomization of the same
// cluster and the dependencies form no cycle, and no object is applied by
// two Kustomizations. It returns what each layer applies, per cluster.
func CheckGitOps(p *config.Platform, repo tree.Tree) (map[string]LayerObjects, error) {
	return checkGitOps(p, NewBuilds().Repo(repo))
}

func checkGitOps(p *config.Platform, r *Repo) (map[string]LayerObjects, error) {
	repo := r.t
	clusters := flux.Clusters(p)
	layers := make([][]flux.Layer, len(clusters))
	for i, c := range clusters {
		ls, err := flux.Layers(p, c)
		if err != nil {
			return nil, err
		}
		layers[i] = ls
	}
	builds := buildLayers(r, layers)
	var errs []error
	out := map[string]LayerObjects{}
	for i, c := range clusters {
		objs, built, err := checkLayers(repo, layers[i], builds[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
		}
		out[c.Name] = objs
		own, err := clusterObjects(repo, c.Name)
		if err != nil {
			errs = append(errs, err)
		}
		origins := map[string]string{}
		for _, l := range layers[i] {
			for j, e := range p.Environments {
				if l.Env != "" && string(e.Name) == l.Env {
					origins[l.Name] = fmt.Sprintf("environments[%d].name", j)
				}
			}
		}
		all := make([]checkedObject, 0, len(own)+len(built))
		for _, d := range own {
			all = append(all, checked(d))
		}
		if err := checkAdmission(p, append(all, built...), origins); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// layerBuild is the build of one layer, or why it could not be built.
type layerBuild struct {
	*builtObjects
	err error
}

// builtObjects are the objects of one build, each with its admission
// problems.
type builtObjects struct {
	ids  []ObjectID
	objs []checkedObject
	err  error // an object that could not be read
}

// buildLayers builds every layer whose path has a kustomization.yaml, on
// every core, and reads its objects (once for a build that several
// clusters share); the result is indexed like layers.
func buildLayers(repo *Repo, layers [][]flux.Layer) [][]layerBuild {
	out := make([][]layerBuild, len(layers))
	var mu sync.Mutex
	read := map[resmap.ResMap]func() *builtObjects{}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, ls := range layers {
		out[i] = make([]layerBuild, len(ls))
		for j, l := range ls {
			if _, ok := repo.t[path.Join(l.Path, "kustomization.yaml")]; !ok {
				continue
			}
			g.Go(func() error {
				m, err := repo.Layer(l)
				if err != nil {
					out[i][j] = layerBuild{err: err}
					return nil
				}
				mu.Lock()
				objects := read[m]
				if objects == nil {
					objects = sync.OnceValue(func() *builtObjects { return objectsOf(m) })
					read[m] = objects
				}
				mu.Unlock()
				out[i][j] = layerBuild{builtObjects: objects()}
				return nil
			})
		}
	}
	g.Wait()
	return out
}

// objectsOf reads the objects of m.
func objectsOf(m resmap.ResMap) *builtObjects {
	out := &builtObjects{}
	var errs []error
	for _, r := range m.Resources() {
		id := objectID(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName())
		doc, err := r.Map()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		out.ids = append(out.ids, id)
		out.objs = append(out.objs, checked(doc))
	}
	out.err = errors.Join(errs...)
	return out
}

// checkLayers checks one cluster's layers, built as builds; see
// CheckGitOps.
func checkLayers(repo tree.Tree, layers []flux.Layer, builds []layerBuild) (LayerObjects, []checkedObject, error) {
	var built []checkedObject
	var errs []error
	byName := map[string]flux.Layer{}
	for _, l := range layers {
		if _, dup := byName[l.Name]; dup {
			errs = append(errs, fmt.Errorf("two Kustomizations are named %s", l.Name))
		}
		byName[l.Name] = l
	}
	for _, l := range layers {
		for _, d := range l.DependsOn {
			if _, ok := byName[d]; !ok {
				errs = append(errs, fmt.Errorf("Kustomization %s depends on %s, which the cluster does not have", l.Name, d))
			}
		}
	}
	if cycle := findCycle(layers); cycle != nil {
		errs = append(errs, fmt.Errorf("dependsOn cycle: %s", strings.Join(cycle, " → ")))
	}
	objs := LayerObjects{}
	owner := map[ObjectID]string{}
	for i, l := range layers {
		if _, ok := repo[path.Join(l.Path, "kustomization.yaml")]; !ok {
			errs = append(errs, fmt.Errorf("Kustomization %s: path ./%s has no kustomization.yaml in the repository", l.Name, l.Path))
			continue
		}
		b := builds[i]
		if b.err != nil {
			errs = append(errs, fmt.Errorf("Kustomization %s: kustomize build ./%s: %w", l.Name, l.Path, b.err))
			continue
		}
		if b.builtObjects.err != nil {
			errs = append(errs, fmt.Errorf("Kustomization %s: %w", l.Name, b.builtObjects.err))
		}
		for k, id := range b.ids {
			if prev, dup := owner[id]; dup {
				errs = append(errs, fmt.Errorf("%s is applied by both %s and %s", id, prev, l.Name))
				continue
			}
			owner[id] = l.Name
			objs[l.Name] = append(objs[l.Name], id)
			built = append(built, b.objs[k])
		}
		sort.Slice(objs[l.Name], func(i, j int) bool { return objs[l.Name][i] < objs[l.Name][j] })
	}
	return objs, built, errors.Join(errs...)
}

// clusterObjects are the objects of clusters/<cluster>/ itself (Flux's
// source and Kustomizations), which the bootstrap Kustomization applies;
// flux bootstrap's own directory is not ours.
func clusterObjects(repo tree.Tree, cluster string) ([]map[string]any, error) {
	var out []map[string]any
	dir := path.Join(flux.ClustersDir, cluster)
	for _, f := range repo.Under(dir).Paths() {
		if strings.HasPrefix(f, flux.BootstrapDir+"/") || path.Ext(f) != ".yaml" {
			continue
		}
		dec := yaml.NewDecoder(bytes.NewReader(repo[path.Join(dir, f)]))
		for {
			var d map[string]any
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s/%s: %w", dir, f, err)
			}
			if d != nil {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// findCycle returns a dependsOn cycle, if any, as the names along it.
func findCycle(layers []flux.Layer) []string {
	deps := map[string][]string{}
	var names []string
	for _, l := range layers {
		deps[l.Name] = l.DependsOn
		names = append(names, l.Name)
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string) []string
	visit = func(n string) []string {
		switch state[n] {
		case onPath:
			for i, s := range stack {
				if s == n {
					return append(append([]string{}, stack[i:]...), n)
				}
			}
		case done:
			return nil
		}
		state[n] = onPath
		stack = append(stack, n)
		for _, d := range deps[n] {
			if c := visit(d); c != nil {
				return c
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
		return nil
	}
	for _, n := range names {
		if c := visit(n); c != nil {
			return c
		}
	}
	return nil
}
