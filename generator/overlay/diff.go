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
	"fmt"
	"reflect"
	"strings"
)

// mergeKey names the key that identifies the elements of a list in a
// strategic-merge patch (the patchMergeKey of the Kubernetes API types).
// Lists not named here are replaced whole.
func mergeKey(path []string) string {
	if len(path) == 0 {
		return ""
	}
	switch last := path[len(path)-1]; last {
	case "containers", "initContainers", "ephemeralContainers", "volumes", "env", "imagePullSecrets":
		return "name"
	case "volumeMounts":
		return "mountPath"
	case "ports":
		if len(path) >= 2 && path[len(path)-2] == "spec" { // Service
			return "port"
		}
		return "containerPort"
	}
	return ""
}

// alsoKeys names the fields besides the merge key that kustomize's merge
// (kyaml) matches list elements by: the x-kubernetes-list-map-keys of the
// Kubernetes schema. Ports are keyed by port and protocol, so a patch
// element that changes or deletes a port must name its protocol too, or
// it matches nothing (the change is then added as a new port, the
// delete is lost).
func alsoKeys(path []string) []string {
	if len(path) > 0 && path[len(path)-1] == "ports" {
		return []string{"protocol"}
	}
	return nil
}

// identity is the part of list element e that names it to kyaml: its
// merge key and the fields of alsoKeys it has.
func identity(path []string, key string, e map[string]any) map[string]any {
	id := map[string]any{key: e[key]}
	for _, k := range alsoKeys(path) {
		if v, ok := e[k]; ok {
			id[k] = v
		}
	}
	return id
}

// Diff returns the strategic-merge patch that turns from into to, and
// whether there is any difference. Keys missing from to are deleted (null);
// lists with a merge key are patched element by element, or replaced with
// the `$patch: replace` directive when no merge yields to's order; other
// lists and scalars are replaced.
func Diff(from, to map[string]any) (map[string]any, bool) {
	p, changed := diffMap(nil, from, to)
	return p, changed
}

func diffMap(path []string, a, b map[string]any) (map[string]any, bool) {
	patch := map[string]any{}
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			patch[k] = bv
			continue
		}
		if d, changed := diffValue(with(path, k), av, bv); changed {
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

func diffValue(path []string, a, b any) (any, bool) {
	switch bv := b.(type) {
	case map[string]any:
		if av, ok := a.(map[string]any); ok {
			return diffMap(path, av, bv)
		}
	case []any:
		if av, ok := a.([]any); ok {
			if reflect.DeepEqual(av, bv) {
				return nil, false
			}
			if key := mergeKey(path); key != "" {
				if p, ok := diffKeyedList(path, key, av, bv); ok {
					return p, true
				}
				// kustomize merges a keyed list given whole element by
				// element, so elements (and fields of elements) only a
				// has would survive: the directive makes it replace.
				return append(append([]any{}, bv...), map[string]any{"$patch": "replace"}), true
			}
			return bv, true
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
func diffKeyedList(path []string, key string, a, b []any) ([]any, bool) {
	ak, aidx, ok := keyed(key, a)
	if !ok {
		return nil, false
	}
	bk, bidx, ok := keyed(key, b)
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
	if strings.Join(kept, "\x00") != strings.Join(keptInA, "\x00") {
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
		if d, changed := diffMap(with(path, "[]"), a[ai].(map[string]any), be); changed {
			for f, v := range identity(path, key, be) {
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
	everything := strings.Join(append(front, rest...), "\x00") != strings.Join(bk, "\x00")
	var out []any
	for _, k := range bk {
		if p, named := patches[k]; named {
			out = append(out, p)
		} else if everything {
			out = append(out, identity(path, key, b[bidx[k]].(map[string]any)))
		}
	}
	for _, k := range ak {
		if _, inB := bidx[k]; !inB {
			del := identity(path, key, a[aidx[k]].(map[string]any))
			del["$patch"] = "delete"
			out = append(out, del)
		}
	}
	return out, true
}

func keyed(key string, l []any) ([]string, map[string]int, bool) {
	var keys []string
	idx := map[string]int{}
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, nil, false
		}
		v, ok := m[key]
		if !ok {
			return nil, nil, false
		}
		k := fmt.Sprint(v)
		if _, dup := idx[k]; dup {
			return nil, nil, false
		}
		idx[k] = i
		keys = append(keys, k)
	}
	return keys, idx, true
}

// with returns path+k in a new slice (append could share the array).
func with(path []string, k string) []string {
	out := make([]string, len(path), len(path)+1)
	copy(out, path)
	return append(out, k)
}
