package generator

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	"sigs.k8s.io/kustomize/api/resmap"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// BuildLayer builds what the Flux Kustomization of layer l applies: the
// kustomization at l.Path with the layer's own patches on top, the way
// kustomize-controller adds spec.patches to the build.
func BuildLayer(repo tree.Tree, l flux.Layer) (resmap.ResMap, error) {
	if len(l.Patches) == 0 {
		return Build(repo, l.Path)
	}
	dir := ".flux-build/" + l.Name
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
	return Build(repo.With(tree.Tree{dir + "/kustomization.yaml": k}), dir)
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
	var errs []error
	out := map[string]LayerObjects{}
	for _, c := range flux.Clusters(p) {
		layers, err := flux.Layers(p, c)
		if err != nil {
			return nil, err
		}
		objs, built, err := checkLayers(repo, layers)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c.Name, err))
		}
		out[c.Name] = objs
		own, err := clusterObjects(repo, c.Name)
		if err != nil {
			errs = append(errs, err)
		}
		origins := map[string]string{}
		for _, l := range layers {
			for i, e := range p.Environments {
				if l.Env != "" && string(e.Name) == l.Env {
					origins[l.Name] = fmt.Sprintf("environments[%d].name", i)
				}
			}
		}
		if err := checkAdmission(p, append(own, built...), origins); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// checkLayers checks one cluster's layers; see CheckGitOps.
func checkLayers(repo tree.Tree, layers []flux.Layer) (LayerObjects, []map[string]any, error) {
	var built []map[string]any
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
	for _, l := range layers {
		if _, ok := repo[path.Join(l.Path, "kustomization.yaml")]; !ok {
			errs = append(errs, fmt.Errorf("Kustomization %s: path ./%s has no kustomization.yaml in the repository", l.Name, l.Path))
			continue
		}
		m, err := BuildLayer(repo, l)
		if err != nil {
			errs = append(errs, fmt.Errorf("Kustomization %s: kustomize build ./%s: %w", l.Name, l.Path, err))
			continue
		}
		for _, r := range m.Resources() {
			id := objectID(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName())
			if prev, dup := owner[id]; dup {
				errs = append(errs, fmt.Errorf("%s is applied by both %s and %s", id, prev, l.Name))
				continue
			}
			owner[id] = l.Name
			objs[l.Name] = append(objs[l.Name], id)
			m, err := r.Map()
			if err != nil {
				errs = append(errs, fmt.Errorf("Kustomization %s: %s: %w", l.Name, id, err))
				continue
			}
			built = append(built, m)
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
