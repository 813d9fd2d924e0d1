// Package overlay owns the kustomize side of the repository: base/ (one
// directory per layer, one kustomize Component per optional part) and
// overlays/<env>/ (one kustomization per layer plus one that builds the
// whole environment).
//
// Nothing in an overlay is written by hand or listed twice: each
// environment's objects are rendered in full, then compared with what base
// and its components render to. Differences become kustomize's own
// features — namespace, images, replicas — and what is left becomes the
// smallest strategic-merge patch that turns one into the other. Objects
// only the environment has (an autoscaler, monitoring) become resources of
// its overlay, one file per component. A test
// builds every overlay with kustomize and compares the result with the
// rendered environment, so a patch that does not do what it should fails.
package overlay

import (
	"reflect"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Diff returns the strategic-merge patch that turns from into to, and
// whether there is any difference. Keys missing from to are deleted
// (null). Lists are patched the way kustomize applies the patch: its merge
// (kyaml merge2) looks the kind up in kustomize's OpenAPI schema
// (openapi.SchemaForResourceType), and a list whose schema says
// x-kubernetes-patch-strategy merge is patched element by element,
// elements matched by x-kubernetes-list-map-keys, else by
// x-kubernetes-patch-merge-key; it is replaced with the `$patch: replace`
// directive when no merge yields to's order. Every other list (atomic in
// the schema, or of a kind the schema lacks, such as a custom resource)
// is replaced whole, as kustomize replaces it.
//
// What a strategic-merge patch cannot say, Diff does not either: a value
// that is null in to (null deletes), a field that turns from a scalar into
// a map or list (kyaml refuses to merge them), and list elements with the
// same keys (kyaml keeps one). The rendering has none of them;
// TestOverlaysBuildToTheModel would fail on the first that appears.
func Diff(from, to map[string]any) (map[string]any, bool) {
	return diffMap(schemaOf(to), from, to)
}

// schemaOf is kustomize's schema of d's kind, nil when it has none.
func schemaOf(d map[string]any) *openapi.ResourceSchema {
	apiVersion, _ := d["apiVersion"].(string)
	kind, _ := d["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil
	}
	return openapi.SchemaForResourceType(yaml.TypeMeta{APIVersion: apiVersion, Kind: kind})
}

// field is the schema of field k of an object of schema s, or nil.
func field(s *openapi.ResourceSchema, k string) *openapi.ResourceSchema {
	if s == nil {
		return nil
	}
	return s.Field(k)
}

// listKeys are the fields kustomize matches the elements of a list of
// schema s by, the first one required, and whether kustomize merges the
// list at all (x-kubernetes-patch-strategy merge). A merge list without
// keys (a set of scalars, such as finalizers) merges with no keys: its
// elements are added to the set, so a patch must replace it.
func listKeys(s *openapi.ResourceSchema) ([]string, bool) {
	if s == nil {
		return nil, false
	}
	strategy, keys := s.PatchStrategyAndKeyList()
	return keys, slices.Contains(strings.Split(strategy, ","), "merge")
}

// elements is the schema of a list's elements, or nil.
func elements(s *openapi.ResourceSchema) *openapi.ResourceSchema {
	if s == nil {
		return nil
	}
	return s.Elements()
}

func diffMap(s *openapi.ResourceSchema, a, b map[string]any) (map[string]any, bool) {
	patch := map[string]any{}
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			patch[k] = bv
			continue
		}
		if d, changed := diffValue(field(s, k), av, bv); changed {
			patch[k] = d
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			patch[k] = nil
		}
	}
	return patch, len(patch) > 0
}

func diffValue(s *openapi.ResourceSchema, a, b any) (any, bool) {
	switch bv := b.(type) {
	case map[string]any:
		if av, ok := a.(map[string]any); ok {
			return diffMap(s, av, bv)
		}
	case []any:
		if av, ok := a.([]any); ok {
			if reflect.DeepEqual(av, bv) {
				return nil, false
			}
			keys, merged := listKeys(s)
			if !merged {
				return bv, true
			}
			if len(keys) > 0 {
				if p, ok := diffKeyedList(s, keys, av, bv); ok {
					return p, true
				}
			}
			// kustomize merges a list it merges given whole element by
			// element (or value by value), so elements (and fields of
			// elements) only a has would survive: the directive makes it
			// replace.
			return append(append([]any{}, bv...), map[string]any{"$patch": "replace"}), true
		}
	}
	if reflect.DeepEqual(a, b) {
		return nil, false
	}
	return b, true
}

// diffKeyedList patches a list element by element. It gives up (ok false,
// the caller replaces the list) when the elements kept from a would change
// order, which a merge patch cannot express.
func diffKeyedList(s *openapi.ResourceSchema, keys []string, a, b []any) ([]any, bool) {
	ak, aidx, ok := keyed(keys, a)
	if !ok {
		return nil, false
	}
	bk, bidx, ok := keyed(keys, b)
	if !ok {
		return nil, false
	}
	// Kept elements must keep their order, and new ones must come first:
	// kustomize's merge (kyaml) puts elements only the patch has in front.
	var kept []string
	seenKept := false
	for _, k := range bk {
		if _, inA := aidx[k]; inA {
			seenKept = true
			kept = append(kept, k)
		} else if seenKept {
			return nil, false
		}
	}
	var keptInA []string
	for _, k := range ak {
		if _, inB := bidx[k]; inB {
			keptInA = append(keptInA, k)
		}
	}
	if !slices.Equal(kept, keptInA) {
		return nil, false
	}
	// kustomize's merge (kyaml) also moves every element the patch names
	// to the front, in the patch's order, changed ones included. When that
	// would reorder the list, the patch names every element (unchanged
	// ones by key alone) so that the merge yields b's order.
	patches := map[string]map[string]any{}
	var front, rest []string
	for _, k := range bk {
		be := b[bidx[k]].(map[string]any)
		ai, inA := aidx[k]
		if !inA {
			patches[k] = be
			front = append(front, k)
			continue
		}
		if d, changed := diffMap(elements(s), a[ai].(map[string]any), be); changed {
			for f, v := range identity(keys, be) {
				d[f] = v
			}
			patches[k] = d
			front = append(front, k)
		}
	}
	for _, k := range keptInA {
		if _, named := patches[k]; !named {
			rest = append(rest, k)
		}
	}
	everything := !slices.Equal(append(front, rest...), bk)
	var out []any
	for _, k := range bk {
		if p, named := patches[k]; named {
			out = append(out, p)
		} else if everything {
			out = append(out, identity(keys, b[bidx[k]].(map[string]any)))
		}
	}
	for _, k := range ak {
		if _, inB := bidx[k]; !inB {
			del := identity(keys, a[aidx[k]].(map[string]any))
			del["$patch"] = "delete"
			out = append(out, del)
		}
	}
	return out, true
}

// identity is the part of list element e that names it to kustomize: the
// list's keys it has (kyaml matches by the keys an element has, so a
// patch element that changes or deletes a port names its protocol too,
// or it would match no port).
func identity(keys []string, e map[string]any) map[string]any {
	id := map[string]any{}
	for _, k := range keys {
		if v, ok := e[k]; ok {
			id[k] = v
		}
	}
	return id
}

// keyed returns the identities of the elements of l in order and the
// index of each; ok is false when an element is no map, lacks a key or
// repeats another's identity. kyaml matches by the keys an element has
// (a port without protocol matches the same port with one), so an
// element without every key could match another than its identity says.
func keyed(keys []string, l []any) ([]string, map[string]int, bool) {
	var ids []string
	idx := map[string]int{}
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, nil, false
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				return nil, nil, false
			}
		}
		id, err := yaml.Marshal(identity(keys, m))
		if err != nil {
			return nil, nil, false
		}
		if _, dup := idx[string(id)]; dup {
			return nil, nil, false
		}
		idx[string(id)] = i
		ids = append(ids, string(id))
	}
	return ids, idx, true
}
