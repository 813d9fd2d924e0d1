// Package review owns the semantic diff of two revisions of the repository:
// what lands on each cluster, built in-process the way Flux builds it,
// compared object by object (identity is group/kind/namespace/name, never
// the file), with the changes a reviewer must not miss flagged first, and
// printed as text, Markdown (for a pull-request comment) or JSON.
//
// It does no I/O: callers read the two revisions (git, disk) into trees.
package review

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// ID identifies an object in a cluster.
type ID struct {
	Group     string `json:"group"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is how a reviewer reads an ID: "Deployment invenio-prod/web-ui".
func (id ID) String() string {
	if id.Namespace == "" {
		return id.Kind + " " + id.Name
	}
	return id.Kind + " " + id.Namespace + "/" + id.Name
}

func (id ID) less(o ID) bool {
	a := [4]string{id.Kind, id.Namespace, id.Name, id.Group}
	b := [4]string{o.Kind, o.Namespace, o.Name, o.Group}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// idOf reads the identity of a built object.
func idOf(d tree.Doc) ID {
	apiVersion, _ := d["apiVersion"].(string)
	kind, _ := d["kind"].(string)
	group := ""
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	return ID{Group: group, Kind: kind, Namespace: str(d, "metadata", "namespace"), Name: str(d, "metadata", "name")}
}

// Objects are the objects one scope applies, by identity.
type Objects map[ID]Object

// Object is one object as built, and the Flux Kustomization that applies
// it ("" when nothing in the revision says: its cluster's own objects, or
// an environment built from overlays/<env> as a whole).
type Object struct {
	Doc   tree.Doc
	Layer string
}

// LayerLabel is the label Flux sets on everything a Kustomization
// applies; its garbage collection deletes only what carries its own name.
const LayerLabel = "kustomize.toolkit.fluxcd.io/name"

// Revision is one revision rendered: scope name → objects. A scope is an
// environment (with its cluster's own objects when the cluster runs only
// that environment) or "<cluster> (cluster)" for a cluster shared by
// several environments.
type Revision map[string]Objects

func (o Objects) ids() []ID {
	ids := make([]ID, 0, len(o))
	for id := range o {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].less(ids[j]) })
	return ids
}

// Report is the comparison of two revisions, scope by scope.
type Report struct {
	Base   string  // what the old side is, e.g. "main (3f2a1c0)"
	Head   string  // what the new side is, e.g. "working tree"
	Scopes []Scope // sorted by name
}

// Scope is what changed in one scope.
type Scope struct {
	Name    string
	Added   []ID
	Removed []ID
	Changed []ObjectChange
	Flags   []Flag
}

// Empty says nothing changed in the scope.
func (s Scope) Empty() bool { return len(s.Added)+len(s.Removed)+len(s.Changed) == 0 }

// Summary is the scope's one-line summary; it counts the changes the API
// server refuses, when there are any: "prod: 0 added, 0 removed, 7 changed
// (9 flagged, 7 immutable)".
func (s Scope) Summary() string {
	if s.Empty() {
		return s.Name + ": no changes"
	}
	flagged := fmt.Sprintf("%d flagged", len(s.Flags))
	if n := s.Refused(); n > 0 {
		flagged += fmt.Sprintf(", %d immutable", n)
	}
	return fmt.Sprintf("%s: %d added, %d removed, %d changed (%s)", s.Name, len(s.Added), len(s.Removed), len(s.Changed), flagged)
}

// Refused counts the scope's flags of changes the API server refuses
// (category immutable).
func (s Scope) Refused() int {
	n := 0
	for _, f := range s.Flags {
		if f.Category == Immutable {
			n++
		}
	}
	return n
}

// Changes says whether anything changed in any scope.
func (r Report) Changes() bool {
	for _, s := range r.Scopes {
		if !s.Empty() {
			return true
		}
	}
	return false
}

// Refused counts the changes the API server refuses, in every scope: a
// push with any fails to apply until someone does them by hand (Runbook).
func (r Report) Refused() int {
	n := 0
	for _, s := range r.Scopes {
		n += s.Refused()
	}
	return n
}

// RefusedFlags lists the flags of changes the API server refuses, each
// with its scope, in report order.
func (r Report) RefusedFlags() []ScopedFlag {
	var out []ScopedFlag
	for _, s := range r.Scopes {
		for _, f := range s.Flags {
			if f.Category == Immutable {
				out = append(out, ScopedFlag{Scope: s.Name, Flag: f})
			}
		}
	}
	return out
}

// ScopedFlag is a flag with the scope it was found in.
type ScopedFlag struct {
	Scope string
	Flag
}

// String reads "prod: StatefulSet invenio-prod/postgresql: <message>".
func (f ScopedFlag) String() string { return f.Scope + ": " + flagText(f.Flag) }

// ObjectChange is an object present in both revisions whose content
// differs, with the differing fields in a stable order.
type ObjectChange struct {
	ID     ID
	Fields []Change
}

// Change is one field that differs. Old or New is nil when the field is
// absent on that side. Values under a SealedSecret's encryptedData or a
// Secret's data are never kept, only whether they changed.
type Change struct {
	Path string
	Old  any
	New  any
	Note string // why this change happened, when it is a consequence of another
}

// Flag is a change a reviewer must not miss.
type Flag struct {
	Category Category
	Object   *ID  // nil for flows, and for one change in several objects (then Objects)
	Objects  []ID // the objects of a merged flag (one image in several workloads)
	Message  string
	Runbook  string // for Immutable: the section of Runbook that says what the change takes

	where       string // the part of Object it is about, when flags of several objects merge
	consequence bool   // follows from another flag of its category, so listed after them
}

// Category is the kind of change a Flag reports, in the order reports list them.
type Category string

// Categories, in report order.
const (
	// Immutable: a change the API server refuses on an existing object
	// (immutableKinds); listed first because Flux's apply of its whole
	// layer fails until someone does it by hand.
	Immutable Category = "immutable"
	Images    Category = "image"
	Replicas  Category = "replicas"
	Resources Category = "resources"
	Storage   Category = "storage"
	Network   Category = "network"
	Ingress   Category = "ingress"
	RBAC      Category = "rbac"
	Security  Category = "security"
	Flux      Category = "flux"
	Secrets   Category = "secrets"
)

// Categories lists every category in report order.
var Categories = []Category{Immutable, Images, Replicas, Resources, Storage, Network, Ingress, RBAC, Security, Flux, Secrets}

func (c Category) rank() int {
	for i, x := range Categories {
		if x == c {
			return i
		}
	}
	return len(Categories)
}

// Compare compares two rendered revisions.
func Compare(base, head Revision) Report {
	names := map[string]bool{}
	for n := range base {
		names[n] = true
	}
	for n := range head {
		names[n] = true
	}
	var r Report
	for n := range names {
		r.Scopes = append(r.Scopes, compareScope(n, base[n], head[n]))
	}
	sort.Slice(r.Scopes, func(i, j int) bool { return r.Scopes[i].Name < r.Scopes[j].Name })
	return r
}

func compareScope(name string, old, new Objects) Scope {
	s := Scope{Name: name}
	all := Objects{}
	for id, d := range old {
		all[id] = d
	}
	for id, d := range new {
		all[id] = d
	}
	var pairs []pair
	for _, id := range all.ids() {
		o, inOld := old[id]
		n, inNew := new[id]
		switch {
		case !inOld:
			s.Added = append(s.Added, id)
		case !inNew:
			s.Removed = append(s.Removed, id)
		default:
			fields := diffObject(id, o.Doc, n.Doc)
			if c, f, moved := layerMove(id, o, n); moved {
				fields = append([]Change{c}, fields...)
				s.Flags = append(s.Flags, f)
			}
			if len(fields) == 0 {
				continue
			}
			s.Changed = append(s.Changed, ObjectChange{ID: id, Fields: fields})
		}
		pairs = append(pairs, pair{id: id, old: o.Doc, new: n.Doc, forcedBy: forcedBy(o, n, new)})
	}
	resealed := false
	for _, p := range pairs {
		if p.id.Kind == "SealedSecret" {
			resealed = true
		}
	}
	for _, p := range pairs {
		id := p.id
		for _, rule := range objectRules {
			for _, f := range rule(p) {
				f.Object = &id
				s.Flags = append(s.Flags, f)
			}
		}
	}
	s.Flags = mergeFlags(s.Flags)
	if resealed {
		markChecksumConsequence(s.Changed)
	}
	s.Flags = append(s.Flags, flowFlags(old, new)...)
	s.Flags = append(s.Flags, exposureFlags(old, new)...)
	sort.SliceStable(s.Flags, func(i, j int) bool {
		a, b := s.Flags[i], s.Flags[j]
		if a.Category != b.Category {
			return a.Category.rank() < b.Category.rank()
		}
		return !a.consequence && b.consequence
	})
	return s
}

// mergeFlags makes one flag of the same change in several objects (one
// image bumped in every workload that runs it), and otherwise puts the
// part of the object a flag is about in front of its message.
func mergeFlags(flags []Flag) []Flag {
	var out []Flag
	index := map[string]int{}
	var where = map[string][]string{}
	for _, f := range flags {
		if f.where == "" {
			out = append(out, f)
			continue
		}
		key := string(f.Category) + "\x00" + f.Message
		if _, ok := index[key]; !ok {
			index[key] = len(out)
			out = append(out, f)
		}
		where[key] = append(where[key], f.Object.Kind+" "+f.Object.Name+" ("+f.where+")")
		m := &out[index[key]]
		m.Objects = append(m.Objects, *f.Object)
		if len(where[key]) == 1 {
			m.Message = f.where + ": " + f.Message
		} else {
			m.Object = nil
			m.Message = f.Message + " in " + strings.Join(where[key], ", ")
		}
		m.where = ""
	}
	for i := range out {
		if len(out[i].Objects) == 1 {
			out[i].Objects = nil // Object says it
		}
	}
	return out
}

// layerMove reports an object that another Flux Kustomization applies in
// the new revision: Flux labels what each Kustomization applies and
// garbage-collects only its own, so on the cluster the object changes
// owner — and is deleted and recreated if the old layer prunes first.
func layerMove(id ID, o, n Object) (Change, Flag, bool) {
	if o.Layer == n.Layer || o.Layer == "" || n.Layer == "" {
		return Change{}, Flag{}, false
	}
	c := Change{Path: "metadata.labels[" + LayerLabel + "]", Old: o.Layer, New: n.Layer, Note: "set by Flux"}
	msg := fmt.Sprintf("moves from Kustomization %s to %s: should %s prune before %s applies, Flux deletes the object and %s creates it anew", o.Layer, n.Layer, o.Layer, n.Layer, n.Layer)
	if str(o.Doc, "metadata", "annotations", PruneAnnotation) == "disabled" {
		msg = fmt.Sprintf("moves from Kustomization %s to %s (prune disabled: %s leaves it, %s takes it over)", o.Layer, n.Layer, o.Layer, n.Layer)
	}
	return c, Flag{Category: Flux, Object: &id, Message: msg}, true
}

// pair is one object on both sides; old or new is nil when it is absent there.
type pair struct {
	id       ID
	old, new tree.Doc
	forcedBy string // why Flux recreates it rather than fail on a refused change (forcedBy), or ""
}

// str is the string at path in d, "" when there is none.
func str(d map[string]any, path ...string) string {
	s, _, _ := unstructured.NestedString(d, path...)
	return s
}

// field is the value at path in d, nil when there is none.
func field(d map[string]any, path ...string) any {
	v, _, _ := unstructured.NestedFieldNoCopy(d, path...)
	return v
}

// object is the object (map) at path in d, nil when there is none.
func object(d map[string]any, path ...string) map[string]any {
	return asObject(field(d, path...))
}

// items is the list at path in d as objects, an element that is no
// object nil.
func items(d map[string]any, path ...string) []map[string]any {
	l := list(d, path...)
	out := make([]map[string]any, len(l))
	for i, e := range l {
		out[i] = asObject(e)
	}
	return out
}

// typed is d as a T (runtime.DefaultUnstructuredConverter): the zero T
// when d is nil (the object is absent on that side) or does not decode
// (the API server would refuse it; the field changes show it).
func typed[T any](d tree.Doc) T {
	var t T
	if d != nil {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d, &t); err != nil {
			var zero T
			return zero
		}
	}
	return t
}

// keySet is the keys of m, as setDiff compares them.
func keySet[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k := range m {
		out[k] = nil
	}
	return out
}

// asObject is v when it is an object (map), else nil.
func asObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// asList is v when it is a list, else nil.
func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// list is the list at path in d, nil when there is none.
func list(d map[string]any, path ...string) []any {
	return asList(field(d, path...))
}

// Diff renders two revisions of the repository (base, then head) and
// compares them; with only set, just that environment (or cluster).
func Diff(base, head tree.Tree, only string) (Report, error) {
	return NewRenderer(nil).Diff(base, head, only)
}

// Diff is Diff through r's builds.
func (r *Renderer) Diff(base, head tree.Tree, only string) (Report, error) {
	// The two revisions are rendered side by side; a layer the change
	// leaves alone is built once.
	var old, new Revision
	var errOld, errNew error
	var wg sync.WaitGroup
	wg.Go(func() { old, errOld = r.Render(base, only) })
	new, errNew = r.Render(head, only)
	wg.Wait()
	if errOld != nil {
		return Report{}, fmt.Errorf("base revision: %w", errOld)
	}
	if errNew != nil {
		return Report{}, fmt.Errorf("working tree: %w", errNew)
	}
	if only != "" && len(old)+len(new) == 0 {
		all, err := r.Render(head, "")
		if err != nil {
			return Report{}, err
		}
		names := make([]string, 0, len(all))
		for n := range all {
			names = append(names, n)
		}
		sort.Strings(names)
		return Report{}, fmt.Errorf("no environment or cluster %q: the repository has %s", only, strings.Join(names, ", "))
	}
	return Compare(old, new), nil
}

// Refusals lists the changes from the repository before to the
// repository after that the API server would refuse (Immutable flags),
// each with its environment: what `platformctl generate` warns about
// before it writes after over before. Both are rendered as Diff renders
// them; identical trees are not rendered at all.
func Refusals(before, after tree.Tree) ([]ScopedFlag, error) {
	return NewRenderer(nil).Refusals(before, after)
}

// Refusals is Refusals through r's builds.
func (r *Renderer) Refusals(before, after tree.Tree) ([]ScopedFlag, error) {
	if maps.EqualFunc(before, after, bytes.Equal) {
		return nil, nil
	}
	// The API server refuses changes of objects it has: from a repository
	// that has none (the first generate), everything is an addition.
	if len(before.Under(flux.ClustersDir))+len(before.Under("overlays")) == 0 {
		return nil, nil
	}
	rep, err := r.Diff(before, after, "")
	if err == nil {
		return rep.RefusedFlags(), nil
	}
	// One cluster that does not render (its secrets/<env> removed by hand
	// with its environment, say) must not hide the others' refusals:
	// compare cluster by cluster and name the ones that failed.
	clusters := map[string]bool{}
	for _, t := range []tree.Tree{before, after} {
		for _, p := range t.Under(flux.ClustersDir).Paths() {
			name, _, _ := strings.Cut(p, "/")
			clusters[name] = true
		}
	}
	var flags []ScopedFlag
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(clusters)) {
		rep, err := r.Diff(before, after, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", c, err))
			continue
		}
		flags = append(flags, rep.RefusedFlags()...)
	}
	return flags, errors.Join(errs...)
}
