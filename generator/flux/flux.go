// Package flux owns the GitOps wiring of the repository: which cluster runs
// which environments, the GitRepository each cluster pulls, the layered
// Flux Kustomizations that apply this repository in order (infrastructure
// controllers → their configs → per environment namespace → secrets →
// data → app), and the infrastructure those layers install (HelmRepository
// and HelmRelease objects with pinned charts, the ACME ClusterIssuers).
//
// The layers are the fact this package states once: their names, paths,
// order and health settings. Paths point at directories other packages
// write (overlays/<env>/<layer>, secrets/<env>) or that this package writes
// (base/infrastructure/…).
package flux

import (
	"fmt"
	"sort"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/overlay"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Directories of this repository the layers apply.
const (
	// ControllersDir holds the infrastructure controllers every cluster runs.
	ControllersDir = "base/infrastructure/controllers"
	// ConfigsDir holds objects that need the controllers' CRDs (ClusterIssuers).
	ConfigsDir = "base/infrastructure/configs"
	// ClustersDir holds one directory per cluster: the path given to
	// `flux bootstrap git --path=clusters/<cluster>`.
	ClustersDir = "clusters"
	// BootstrapDir is what `flux bootstrap` writes into each cluster's
	// directory; the generator never touches it.
	BootstrapDir = "flux-system"
)

// EnvLayers are the layers of one environment, in apply order, each the
// overlay directory overlays/<env>/<layer> (or secrets/<env>).
var EnvLayers = []string{"namespace", "secrets", "data", "app"}

// Cluster is one Kubernetes cluster and the environments it runs.
type Cluster struct {
	Name string
	Envs []config.Environment
}

// Clusters groups the environments by cluster, in the order the
// description first names each cluster.
func Clusters(p *config.Platform) []Cluster {
	var out []Cluster
	index := map[config.DNSLabel]int{}
	for _, e := range p.Environments {
		i, ok := index[e.Cluster]
		if !ok {
			i = len(out)
			index[e.Cluster] = i
			out = append(out, Cluster{Name: string(e.Cluster)})
		}
		out[i].Envs = append(out[i].Envs, e)
	}
	return out
}

// Layer is one Flux Kustomization: a directory of this repository applied,
// pruned and health-checked as a unit once the layer it depends on is Ready.
type Layer struct {
	Name      string
	Env       string // the environment the layer belongs to; "" for the cluster's infrastructure
	Path      string // relative to the repository root, without "./"
	DependsOn []string
	Patches   []kustomize.Patch // per-cluster changes to a shared directory
}

// Layers are the Kustomizations of cluster c, in dependency order.
func Layers(p *config.Platform, c Cluster) ([]Layer, error) {
	patches, err := infrastructurePatches(p, c)
	if err != nil {
		return nil, err
	}
	layers := []Layer{
		{Name: "infrastructure-controllers", Path: ControllersDir, Patches: patches.controllers},
		{Name: "infrastructure-configs", Path: ConfigsDir, DependsOn: []string{"infrastructure-controllers"}, Patches: patches.configs},
	}
	for _, e := range c.Envs {
		below := "infrastructure-configs"
		for _, l := range EnvLayers {
			name := string(e.Name) + "-" + l
			path := "overlays/" + string(e.Name) + "/" + l
			if l == "secrets" {
				path = "secrets/" + string(e.Name)
			}
			layers = append(layers, Layer{Name: name, Env: string(e.Name), Path: path, DependsOn: []string{below}})
			below = name
		}
	}
	return layers, nil
}

// SourceName is the GitRepository every layer reads.
func SourceName(p *config.Platform) string { return string(p.Site.Name) }

// GitRepository is the source of cluster c: this repository's branch. Its
// ignore rules ship only the manifests, not the generator's source.
func GitRepository(p *config.Platform) *sourcev1.GitRepository {
	g := p.GitOps
	ignore := "# Only the manifests: the generator's source is not needed in the cluster.\n/*\n!/base/\n!/overlays/\n!/secrets/\n!/clusters/\n"
	return &sourcev1.GitRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind},
		ObjectMeta: objectMeta(p, SourceName(p), string(g.Namespace)),
		Spec: sourcev1.GitRepositorySpec{
			URL:       string(g.URL),
			SecretRef: &meta.LocalObjectReference{Name: string(g.SecretRef)},
			Interval:  duration(g.SourceInterval),
			Reference: &sourcev1.GitRepositoryRef{Branch: string(g.Branch)},
			Ignore:    &ignore,
		},
	}
}

// Kustomization is the Flux object of one layer. Every layer prunes what
// leaves git and waits until everything it applied is Ready (Deployments
// available, StatefulSets rolled out, Jobs complete, HelmReleases
// installed), so the next layer starts on a working one. No decryption
// (SealedSecrets are decrypted in the cluster by their controller) and no
// postBuild substitution (it would fail the build on the $(VAR) and
// ${VAR} of the shell scripts in Jobs).
func Kustomization(p *config.Platform, l Layer) *kustomizev1.Kustomization {
	g := p.GitOps
	retry := duration(g.RetryInterval)
	timeout := duration(g.Timeout)
	k := &kustomizev1.Kustomization{
		TypeMeta:   metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: objectMeta(p, l.Name, string(g.Namespace)),
		Spec: kustomizev1.KustomizationSpec{
			Interval:      duration(g.Interval),
			RetryInterval: &retry,
			Timeout:       &timeout,
			Path:          "./" + l.Path,
			Prune:         true,
			Wait:          true,
			SourceRef:     kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: SourceName(p)},
			Patches:       l.Patches,
		},
	}
	for _, d := range l.DependsOn {
		k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: d})
	}
	return k
}

func objectMeta(p *config.Platform, name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      name,
		Namespace: namespace,
		Labels: map[string]string{
			"app.kubernetes.io/part-of":    string(p.Site.PartOf),
			"app.kubernetes.io/managed-by": string(p.Site.ManagedBy),
		},
	}
}

// duration converts a validated description duration.
func duration(d config.Duration) metav1.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		panic(fmt.Sprintf("flux: unvalidated duration %q", d)) // config rejects these
	}
	return metav1.Duration{Duration: v}
}

// Files renders base/infrastructure/ and clusters/<cluster>/ for every
// cluster of p.
func Files(p *config.Platform) (tree.Tree, error) {
	t := tree.Tree{}
	base, err := Infrastructure(p, p.Defaults)
	if err != nil {
		return nil, err
	}
	if err := writeDir(t, ControllersDir, base.Controllers); err != nil {
		return nil, err
	}
	if err := writeDir(t, ConfigsDir, base.Configs); err != nil {
		return nil, err
	}
	for _, c := range Clusters(p) {
		layers, err := Layers(p, c)
		if err != nil {
			return nil, err
		}
		dir := ClustersDir + "/" + c.Name + "/"
		if err := put(t, dir+"source.yaml", GitRepository(p)); err != nil {
			return nil, err
		}
		files := map[string][]any{}
		var order []string
		for _, l := range layers {
			file := "infrastructure.yaml"
			if l.Env != "" {
				file = l.Env + ".yaml"
			}
			if files[file] == nil {
				order = append(order, file)
			}
			files[file] = append(files[file], Kustomization(p, l))
		}
		for _, f := range order {
			if err := put(t, dir+f, files[f]...); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// put writes typed objects as one file.
func put(t tree.Tree, path string, objs ...any) error {
	b, err := tree.MarshalObjects(objs...)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	t[path] = append([]byte(tree.Header), b...)
	return nil
}

// writeDir writes one file per named group of objects and the
// kustomization.yaml listing them.
func writeDir(t tree.Tree, dir string, files []File) error {
	var names []string
	for _, f := range files {
		if err := put(t, dir+"/"+f.Name, f.Objects...); err != nil {
			return err
		}
		names = append(names, f.Name)
	}
	sort.Strings(names)
	k := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": names}
	if len(names) == 0 {
		k["resources"] = []string{}
	}
	b, err := tree.Marshal(k)
	if err != nil {
		return err
	}
	t[dir+"/kustomization.yaml"] = append([]byte(tree.Header), b...)
	return nil
}

type patches struct{ controllers, configs []kustomize.Patch }

// infrastructurePatches is how cluster c's infrastructure differs from the
// shared directories (rendered from `defaults:`): minimal strategic-merge
// patches, carried by the cluster's own Kustomizations so that the shared
// directories stay shared.
func infrastructurePatches(p *config.Platform, c Cluster) (patches, error) {
	var out patches
	base, err := Infrastructure(p, p.Defaults)
	if err != nil {
		return out, err
	}
	mine, err := ClusterInfrastructure(p, c)
	if err != nil {
		return out, err
	}
	if out.controllers, err = diffFiles(base.Controllers, mine.Controllers); err != nil {
		return out, err
	}
	if out.configs, err = diffFiles(base.Configs, mine.Configs); err != nil {
		return out, err
	}
	return out, nil
}

func diffFiles(base, mine []File) ([]kustomize.Patch, error) {
	index := func(files []File) (map[string]tree.Doc, []string, error) {
		m := map[string]tree.Doc{}
		var keys []string
		for _, f := range files {
			for _, o := range f.Objects {
				d, err := tree.ToDoc(o)
				if err != nil {
					return nil, nil, err
				}
				u := unstructured.Unstructured{Object: d}
				key := u.GetKind() + "/" + u.GetName()
				m[key] = d
				keys = append(keys, key)
			}
		}
		return m, keys, nil
	}
	b, bkeys, err := index(base)
	if err != nil {
		return nil, err
	}
	m, mkeys, err := index(mine)
	if err != nil {
		return nil, err
	}
	for _, key := range mkeys {
		if _, ok := b[key]; !ok {
			// The shared directories hold every controller some cluster
			// needs; a cluster only leaves some out.
			return nil, fmt.Errorf("flux: a cluster's infrastructure has %s, which the shared one lacks", key)
		}
	}
	var out []kustomize.Patch
	for _, key := range bkeys {
		if _, ok := m[key]; !ok {
			// A controller (or its class) the cluster does not need.
			u := unstructured.Unstructured{Object: b[key]}
			del := map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(), "metadata": map[string]any{"name": u.GetName()}, "$patch": "delete"}
			if ns := u.GetNamespace(); ns != "" {
				del["metadata"].(map[string]any)["namespace"] = ns
			}
			y, err := yaml.Marshal(del)
			if err != nil {
				return nil, err
			}
			out = append(out, kustomize.Patch{Patch: string(y), Target: &kustomize.Selector{Kind: u.GetKind(), Name: u.GetName()}})
			continue
		}
		patch, changed := overlay.Diff(b[key], m[key])
		if !changed {
			continue
		}
		u, pu := unstructured.Unstructured{Object: m[key]}, unstructured.Unstructured{Object: patch}
		pu.SetName(u.GetName())
		if ns := u.GetNamespace(); ns != "" {
			pu.SetNamespace(ns)
		}
		pu.SetAPIVersion(u.GetAPIVersion())
		pu.SetKind(u.GetKind())
		y, err := yaml.Marshal(patch)
		if err != nil {
			return nil, err
		}
		out = append(out, kustomize.Patch{
			Patch:  string(y),
			Target: &kustomize.Selector{Kind: u.GetKind(), Name: u.GetName()},
		})
	}
	return out, nil
}

// Graph describes the layers of every cluster as an indented tree, each
// layer under the one it depends on, with its path.
func Graph(p *config.Platform) (string, error) {
	var b strings.Builder
	for _, c := range Clusters(p) {
		layers, err := Layers(p, c)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "cluster %s (clusters/%s, GitRepository %s/%s: %s @ %s)\n", c.Name, c.Name, p.GitOps.Namespace, SourceName(p), p.GitOps.URL, p.GitOps.Branch)
		children := map[string][]Layer{}
		var roots []Layer
		for _, l := range layers {
			if len(l.DependsOn) == 0 {
				roots = append(roots, l)
			}
			for _, d := range l.DependsOn {
				children[d] = append(children[d], l)
			}
		}
		var walk func(l Layer, depth int)
		walk = func(l Layer, depth int) {
			patched := ""
			if len(l.Patches) > 0 {
				patched = fmt.Sprintf(" (+%d cluster patches)", len(l.Patches))
			}
			fmt.Fprintf(&b, "%s└─ %-*s ./%s%s\n", strings.Repeat("   ", depth), 44-3*depth, l.Name, l.Path, patched)
			for _, ch := range children[l.Name] {
				walk(ch, depth+1)
			}
		}
		for _, r := range roots {
			walk(r, 0)
		}
	}
	return b.String(), nil
}
