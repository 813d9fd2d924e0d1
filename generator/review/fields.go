package review

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"lbl.gov/invenio-gitops/generator/tree"
)

// mergeKeys are the fields that identify an element of a list of objects,
// in the order they are tried: Kubernetes' strategic-merge keys for the
// lists manifests have (containers, env, volumes and ports by name, volume
// mounts by mountPath, …). A list is matched by the first key every
// element has, with distinct values; a reordered or inserted element is
// then one change, not a cascade.
var mergeKeys = []string{"name", "metadata.name", "containerPort", "port", "mountPath", "devicePath", "ip", "host", "topologyKey"}

// keyOf reads merge key k (a dotted path) of a list element.
func keyOf(e any, k string) (any, bool) {
	v := get(e, strings.Split(k, ".")...)
	return v, v != nil
}

// diffObject lists the fields that differ between two versions of object id.
func diffObject(id ID, old, new tree.Doc) []Change {
	var out []Change
	diffValue("", old, new, &out)
	for i := range out {
		redact(id, &out[i])
	}
	return out
}

func diffValue(path string, a, b any, out *[]Change) {
	if reflect.DeepEqual(a, b) {
		return
	}
	switch x := a.(type) {
	case map[string]any:
		if y, ok := b.(map[string]any); ok {
			keys := map[string]bool{}
			for k := range x {
				keys[k] = true
			}
			for k := range y {
				keys[k] = true
			}
			sorted := make([]string, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Strings(sorted)
			for _, k := range sorted {
				diffValue(join(path, k), x[k], y[k], out)
			}
			return
		}
	case []any:
		if y, ok := b.([]any); ok && diffList(path, x, y, out) {
			return
		}
	}
	*out = append(*out, Change{Path: path, Old: a, New: b})
}

// diffList compares two lists element by element when their elements can
// be matched (by a merge key, or by position for lists of objects of the
// same length); it returns false when the list is best shown whole.
func diffList(path string, a, b []any, out *[]Change) bool {
	if key := mergeKey(a, b); key != "" {
		index := func(l []any) (map[string]any, []string) {
			m := map[string]any{}
			var order []string
			for _, e := range l {
				v, _ := keyOf(e, key)
				k := fmt.Sprint(v)
				m[k] = e
				order = append(order, k)
			}
			return m, order
		}
		am, aOrder := index(a)
		bm, bOrder := index(b)
		seen := map[string]bool{}
		for _, k := range append(aOrder, bOrder...) {
			if seen[k] {
				continue
			}
			seen[k] = true
			diffValue(fmt.Sprintf("%s[%s=%s]", path, key, k), am[k], bm[k], out)
		}
		return true
	}
	if len(a) == len(b) && len(a) > 0 && allMaps(a) && allMaps(b) {
		for i := range a {
			diffValue(fmt.Sprintf("%s[%d]", path, i), a[i], b[i], out)
		}
		return true
	}
	return false
}

func allMaps(l []any) bool {
	for _, e := range l {
		if _, ok := e.(map[string]any); !ok {
			return false
		}
	}
	return true
}

// mergeKey is the first of mergeKeys that identifies every element of
// both lists, or "".
func mergeKey(a, b []any) string {
	if !allMaps(a) || !allMaps(b) || len(a)+len(b) == 0 {
		return ""
	}
next:
	for _, k := range mergeKeys {
		for _, l := range [][]any{a, b} {
			seen := map[string]bool{}
			for _, e := range l {
				v, ok := keyOf(e, k)
				if !ok {
					continue next
				}
				switch v.(type) {
				case map[string]any, []any:
					continue next
				}
				s := fmt.Sprint(v)
				if seen[s] {
					continue next
				}
				seen[s] = true
			}
		}
		return k
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	if strings.ContainsAny(key, ".[]= ") || key == "" {
		return path + "[" + key + "]"
	}
	return path + "." + key
}

// redact replaces secret values in a change by what a reviewer may know:
// that a sealed value was added, removed or re-sealed.
func redact(id ID, c *Change) {
	var prefixes []string
	switch {
	case id.Kind == "SealedSecret":
		prefixes = []string{"spec.encryptedData"}
	case id.Kind == "Secret" && id.Group == "":
		prefixes = []string{"data", "stringData"}
	default:
		return
	}
	for _, p := range prefixes {
		if c.Path != p && !strings.HasPrefix(c.Path, p+".") && !strings.HasPrefix(c.Path, p+"[") {
			continue
		}
		c.Old, c.New = hide(c.Old), hide(c.New)
		if c.Old != nil && c.New != nil && c.Path != p {
			c.Note = "re-sealed"
		}
	}
}

// Hidden stands for a secret value in a report.
const Hidden = "(secret)"

func hide(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		m := map[string]any{}
		for k := range x {
			m[k] = Hidden
		}
		return m
	}
	return Hidden
}

// render prints a value on one line: scalars as they are, objects and
// lists as compact JSON.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" || strings.ContainsAny(x, " \t\n\"") || x != strings.TrimSpace(x) {
			b, _ := json.Marshal(x)
			return string(b)
		}
		return x
	case float64, int64, int, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
