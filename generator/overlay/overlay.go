package overlay

import (
	"fmt"
	"path"
	"runtime"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/types"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Object is one rendered manifest and where it belongs.
type Object struct {
	Layer     component.Layer
	Component string
	Doc       tree.Doc
}

// Kind returns the object's kind.
func (o Object) Kind() string { return (&unstructured.Unstructured{Object: o.Doc}).GetKind() }

// Name returns metadata.name.
func (o Object) Name() string { return (&unstructured.Unstructured{Object: o.Doc}).GetName() }

// Key identifies an object within an environment. A Namespace is keyed by
// kind alone: the namespace transformer renames it.
func (o Object) Key() string {
	if o.Kind() == "Namespace" {
		return "Namespace"
	}
	return o.Kind() + "/" + o.Name()
}

// Rendering is every object of one rendering of the platform.
type Rendering []Object

func (r Rendering) index() map[string]Object {
	m := make(map[string]Object, len(r))
	for _, o := range r {
		m[o.Key()] = o
	}
	return m
}

// Env is what the overlays of one environment are computed from.
type Env struct {
	Name, Namespace string
	Enabled         []string  // optional components switched on
	Model           Rendering // the environment as it must come out of kustomize
	Reference       Rendering // base plus the enabled components, as rendered
}

// Input is everything the kustomize tree is computed from.
type Input struct {
	Base       Rendering            // every optional component off
	Components map[string]Rendering // base with only that component on
	Optional   map[string]component.Layer
	Envs       []Env
}

const (
	apiVersion          = "kustomize.config.k8s.io/v1beta1"
	componentAPIVersion = "kustomize.config.k8s.io/v1alpha1"
)

// Files computes base/ and overlays/.
func Files(in Input) (tree.Tree, error) {
	t := tree.Tree{}
	if err := baseFiles(t, in.Base); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(in.Components))
	for n := range in.Components {
		names = append(names, n)
	}
	sort.Strings(names)
	// Each component and each environment writes only below its own
	// directory: they are computed on every core, then merged.
	// The first error in that order is the one returned, as before.
	parts := make([]tree.Tree, len(names)+len(in.Envs))
	errs := make([]error, len(parts))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, n := range names {
		g.Go(func() error {
			parts[i] = tree.Tree{}
			errs[i] = componentFiles(parts[i], n, in.Optional[n], in.Base, in.Components[n])
			return nil
		})
	}
	for i, e := range in.Envs {
		j := len(names) + i
		g.Go(func() error {
			parts[j] = tree.Tree{}
			if err := envFiles(parts[j], e, in.Optional); err != nil {
				errs[j] = fmt.Errorf("overlay %s: %w", e.Name, err)
			}
			return nil
		})
	}
	g.Wait()
	for i, part := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for p, b := range part {
			if _, dup := t[p]; dup {
				return nil, fmt.Errorf("%s is written twice", p)
			}
			t[p] = b
		}
	}
	return t, nil
}

// kindOrder puts what others depend on first in a file.
var kindOrder = map[string]int{
	"Namespace": 0, "ServiceAccount": 1, "ConfigMap": 2, "PersistentVolumeClaim": 3, "Service": 4,
	"StatefulSet": 5, "Deployment": 5, "Job": 6, "CronJob": 6, "Ingress": 7, "NetworkPolicy": 8,
	"HorizontalPodAutoscaler": 9, "PodDisruptionBudget": 9, "ServiceMonitor": 10, "PrometheusRule": 10,
}

func sortObjects(objs []Object) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if kindOrder[a.Kind()] != kindOrder[b.Kind()] {
			return kindOrder[a.Kind()] < kindOrder[b.Kind()]
		}
		return a.Name() < b.Name()
	})
}

// withoutNamespace returns a deep copy of a document without
// metadata.namespace: base objects get theirs from the overlay.
func withoutNamespace(d tree.Doc) tree.Doc {
	out := k8sruntime.DeepCopyJSON(d)
	unstructured.RemoveNestedField(out, "metadata", "namespace")
	return out
}

func marshalFile(docs []tree.Doc) ([]byte, error) {
	b, err := tree.Marshal(docs...)
	if err != nil {
		return nil, err
	}
	return append([]byte(tree.Header), b...), nil
}

func kustomization(k *types.Kustomization) ([]byte, error) {
	d, err := tree.ToDoc(k)
	if err != nil {
		return nil, err
	}
	return marshalFile([]tree.Doc{d})
}

// byComponent groups objects into one file per component.
func byComponent(objs []Object) (map[string][]Object, []string) {
	groups := map[string][]Object{}
	for _, o := range objs {
		groups[o.Component] = append(groups[o.Component], o)
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return groups, names
}

func writeObjects(t tree.Tree, file string, objs []Object) error {
	sortObjects(objs)
	var docs []tree.Doc
	for _, o := range objs {
		docs = append(docs, withoutNamespace(o.Doc))
	}
	b, err := marshalFile(docs)
	if err != nil {
		return err
	}
	t[file] = b
	return nil
}

func baseFiles(t tree.Tree, base Rendering) error {
	for _, layer := range component.Layers {
		var objs []Object
		for _, o := range base {
			if o.Layer == layer {
				objs = append(objs, o)
			}
		}
		groups, names := byComponent(objs)
		k := &types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: apiVersion, Kind: types.KustomizationKind}}
		for _, n := range names {
			file := n + ".yaml"
			if err := writeObjects(t, path.Join("base", string(layer), file), groups[n]); err != nil {
				return err
			}
			k.Resources = append(k.Resources, file)
		}
		b, err := kustomization(k)
		if err != nil {
			return err
		}
		t[path.Join("base", string(layer), "kustomization.yaml")] = b
	}
	return nil
}

// componentFiles writes base/components/<name>: the objects the component
// adds as resources, and patches for the objects it changes.
func componentFiles(t tree.Tree, name string, layer component.Layer, base, with Rendering) error {
	dir := path.Join("base", "components", name)
	baseIdx := base.index()
	var added []Object
	k := &types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: componentAPIVersion, Kind: types.ComponentKind}}
	var patches []string
	for _, o := range with {
		b, inBase := baseIdx[o.Key()]
		if !inBase {
			if o.Layer != layer {
				return fmt.Errorf("component %s adds %s to layer %s, but belongs to layer %s", name, o.Key(), o.Layer, layer)
			}
			added = append(added, o)
			continue
		}
		patch, changed := Diff(withoutNamespace(b.Doc), withoutNamespace(o.Doc))
		if !changed {
			continue
		}
		if o.Layer != layer {
			return fmt.Errorf("component %s changes %s of layer %s: an optional component may change only its own layer (%s)", name, o.Key(), o.Layer, layer)
		}
		file, err := writePatch(t, dir, o, patch)
		if err != nil {
			return err
		}
		patches = append(patches, file)
	}
	if len(added) > 0 {
		if err := writeObjects(t, path.Join(dir, name+".yaml"), added); err != nil {
			return err
		}
		k.Resources = []string{name + ".yaml"}
	}
	sort.Strings(patches)
	for _, p := range patches {
		k.Patches = append(k.Patches, types.Patch{Path: p})
	}
	b, err := kustomization(k)
	if err != nil {
		return err
	}
	t[path.Join(dir, "kustomization.yaml")] = b
	return nil
}

// writePatch writes a strategic-merge patch for o under dir/patches.
func writePatch(t tree.Tree, dir string, o Object, patch map[string]any) (string, error) {
	doc := tree.Doc{"apiVersion": o.Doc["apiVersion"], "kind": o.Kind()}
	meta, _, _ := unstructured.NestedMap(patch, "metadata") // a copy
	if meta == nil {
		meta = map[string]any{}
	}
	meta["name"] = o.Name()
	for k, v := range patch {
		if k != "metadata" {
			doc[k] = v
		}
	}
	doc["metadata"] = meta
	file := path.Join("patches", strings.ToLower(o.Kind())+"-"+o.Name()+".yaml")
	b, err := marshalFile([]tree.Doc{doc})
	if err != nil {
		return "", err
	}
	t[path.Join(dir, file)] = b
	return file, nil
}

// writeDelete writes the strategic-merge patch that removes o from the
// build: kustomize drops an object a `$patch: delete` patch names, whatever
// its kind (the directive is kyaml's, not a schema's, so it works for the
// Prometheus Operator's kinds too).
func writeDelete(t tree.Tree, dir string, o Object) (string, error) {
	doc := tree.Doc{"apiVersion": o.Doc["apiVersion"], "kind": o.Kind(), "metadata": map[string]any{"name": o.Name()}, "$patch": "delete"}
	file := path.Join("patches", "delete-"+strings.ToLower(o.Kind())+"-"+o.Name()+".yaml")
	b, err := marshalFile([]tree.Doc{doc})
	if err != nil {
		return "", err
	}
	t[path.Join(dir, file)] = b
	return file, nil
}

func envFiles(t tree.Tree, e Env, optional map[string]component.Layer) error {
	dir := path.Join("overlays", e.Name)
	top := &types.Kustomization{TypeMeta: types.TypeMeta{APIVersion: apiVersion, Kind: types.KustomizationKind}}
	ref := e.Reference.index()
	model := e.Model.index()
	for _, layer := range component.Layers {
		ldir := path.Join(dir, string(layer))
		top.Resources = append(top.Resources, string(layer))
		if layer == component.LayerNamespace {
			// The sealed Secrets come right after their namespace, as Flux
			// applies them (secrets/<env> is maintained by the secrets
			// commands, not generated).
			top.Resources = append(top.Resources, path.Join("..", "..", "secrets", e.Name))
		}
		k := &types.Kustomization{
			TypeMeta:  types.TypeMeta{APIVersion: apiVersion, Kind: types.KustomizationKind},
			Namespace: e.Namespace,
			Resources: []string{path.Join("..", "..", "..", "base", string(layer))},
		}
		for _, n := range e.Enabled {
			if optional[n] == layer {
				k.Components = append(k.Components, path.Join("..", "..", "..", "base", "components", n))
			}
		}
		images := map[string]types.Image{}
		var patches []string
		var own []Object // what only this environment has
		for _, o := range e.Model {
			if o.Layer != layer {
				continue
			}
			r, ok := ref[o.Key()]
			if !ok {
				own = append(own, o)
				continue
			}
			doc := withoutNamespace(o.Doc)
			if o.Kind() == "Namespace" {
				(&unstructured.Unstructured{Object: doc}).SetName(r.Name())
			}
			if err := liftImages(doc, withoutNamespace(r.Doc), images); err != nil {
				return fmt.Errorf("%s: %w", o.Key(), err)
			}
			if n, ok := liftReplicas(doc, r.Doc); ok {
				k.Replicas = append(k.Replicas, types.Replica{Name: o.Name(), Count: n})
			}
			patch, changed := Diff(withoutNamespace(r.Doc), doc)
			if !changed {
				continue
			}
			file, err := writePatch(t, ldir, o, patch)
			if err != nil {
				return err
			}
			patches = append(patches, file)
		}
		// Objects base or an enabled component has and the environment
		// has not (its monitoring, an autoscaler or a report switched off
		// where defaults: switch them on): a patch deletes each, so that
		// every switch the layering allows works both ways.
		for _, r := range e.Reference {
			if r.Layer != layer {
				continue
			}
			if _, ok := model[r.Key()]; ok {
				continue
			}
			file, err := writeDelete(t, ldir, r)
			if err != nil {
				return err
			}
			patches = append(patches, file)
		}
		// Objects neither base nor an enabled component has (an
		// autoscaler, a disruption budget, monitoring, a report): the
		// overlay adds them as its own resources, one file per component.
		groups, names := byComponent(own)
		for _, n := range names {
			file := n + ".yaml"
			if err := writeObjects(t, path.Join(ldir, file), groups[n]); err != nil {
				return err
			}
			k.Resources = append(k.Resources, file)
		}
		for _, img := range sortedImages(images) {
			k.Images = append(k.Images, img)
		}
		sort.Slice(k.Replicas, func(i, j int) bool { return k.Replicas[i].Name < k.Replicas[j].Name })
		sort.Strings(patches)
		for _, p := range patches {
			k.Patches = append(k.Patches, types.Patch{Path: p})
		}
		b, err := kustomization(k)
		if err != nil {
			return err
		}
		t[path.Join(ldir, "kustomization.yaml")] = b
	}
	b, err := kustomization(top)
	if err != nil {
		return err
	}
	t[path.Join(dir, "kustomization.yaml")] = b
	return nil
}

func sortedImages(m map[string]types.Image) []types.Image {
	var out []types.Image
	for _, img := range m {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// containers returns the containers of a workload document (init
// containers first), each the document's own map.
func containers(doc tree.Doc) []map[string]any {
	template := []string{"spec", "template", "spec"}
	if _, cronJob, _ := unstructured.NestedFieldNoCopy(doc, "spec", "jobTemplate"); cronJob {
		template = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	var out []map[string]any
	for _, k := range []string{"initContainers", "containers"} {
		l, _, _ := unstructured.NestedFieldNoCopy(doc, append(template, k)...)
		for _, c := range asList(l) {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// splitImage splits an image reference into its name and tag as the
// container runtime reads it (github.com/distribution/reference, not
// normalized: "redis" stays "redis").
func splitImage(ref string) (name, tag string, err error) {
	r, err := reference.Parse(ref)
	if err != nil {
		return "", "", err
	}
	named, ok := r.(reference.Named)
	if !ok {
		return "", "", fmt.Errorf("image %q has no name", ref)
	}
	if t, ok := r.(reference.Tagged); ok {
		tag = t.Tag()
	}
	return named.Name(), tag, nil
}

// liftImages moves image differences of doc against ref into kustomize
// image entries and puts ref's images back into doc.
func liftImages(doc, ref tree.Doc, images map[string]types.Image) error {
	refImages := map[string]string{}
	for _, c := range containers(ref) {
		name, _, _ := unstructured.NestedString(c, "name")
		refImages[name], _, _ = unstructured.NestedString(c, "image")
	}
	for _, c := range containers(doc) {
		name, _, _ := unstructured.NestedString(c, "name")
		want, _, _ := unstructured.NestedString(c, "image")
		if have := refImages[name]; have != "" && want != have {
			hr, _, err := splitImage(have)
			if err != nil {
				return err
			}
			wr, wt, err := splitImage(want)
			if err != nil {
				return err
			}
			img := types.Image{Name: hr, NewTag: wt}
			if wr != hr {
				img.NewName = wr
			}
			if prev, dup := images[hr]; dup && prev != img {
				return fmt.Errorf("image %s is mapped to both %s:%s and %s:%s in one layer", hr, prev.NewName, prev.NewTag, img.NewName, img.NewTag)
			}
			images[hr] = img
			c["image"] = have
		}
	}
	return nil
}

// liftReplicas moves a replica count that differs from ref, or that ref
// lacks (an autoscaler in defaults: switched off in the environment), out
// of doc: kustomize's replicas entry sets the field, or adds it. A count
// doc lacks (an autoscaler the environment switches on) stays for the
// patch, which deletes the field.
func liftReplicas(doc, ref tree.Doc) (int64, bool) {
	w, _, _ := unstructured.NestedFieldNoCopy(doc, "spec", "replicas")
	h, _, _ := unstructured.NestedFieldNoCopy(ref, "spec", "replicas")
	want, ok1 := w.(float64) // JSON numbers (tree.ToDoc)
	have, ok2 := h.(float64)
	if !ok1 || (ok2 && want == have) {
		return 0, false
	}
	if ok2 {
		if err := unstructured.SetNestedField(doc, have, "spec", "replicas"); err != nil {
			return 0, false // spec is no object: left for the patch
		}
	} else {
		unstructured.RemoveNestedField(doc, "spec", "replicas")
	}
	return int64(want), true
}
