package review

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
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
	m, _ := e.(map[string]any)
	v := field(m, strings.Split(k, ".")...)
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

// diffList compares two lists element by element: by merge key when the
// elements have one, otherwise by value (diffUnkeyed). It returns false
// when the list is best shown whole (it never is, for now).
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
	diffUnkeyed(path, a, b, out)
	return true
}

// lcsTable is the dynamic-programming table of the longest common
// subsequence: lcs[i][j] is its length for x[i:] and y[j:].
func lcsTable(x, y []string) [][]int {
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	return lcs
}

// diffUnkeyed compares lists without a merge key: elements are matched by
// value along their longest common subsequence; between matches, removed
// and added elements are paired by position (and compared field by field),
// and the rest are reported removed (at their old index) or added (at
// their new one).
func diffUnkeyed(path string, a, b []any, out *[]Change) {
	x, y := canonical(a), canonical(b)
	lcs := lcsTable(x, y)
	var dels, ins []int
	flush := func() {
		n := min(len(dels), len(ins))
		for k := 0; k < n; k++ {
			diffValue(fmt.Sprintf("%s[%d]", path, ins[k]), a[dels[k]], b[ins[k]], out)
		}
		for _, i := range dels[n:] {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, i), Old: a[i]})
		}
		for _, j := range ins[n:] {
			*out = append(*out, Change{Path: fmt.Sprintf("%s[%d]", path, j), New: b[j]})
		}
		dels, ins = nil, nil
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			flush()
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			dels = append(dels, i)
			i++
		default:
			ins = append(ins, j)
			j++
		}
	}
	flush()
}

// canonical is each element as JSON (map keys sorted), for matching.
func canonical(l []any) []string {
	out := make([]string, len(l))
	for i, e := range l {
		b, _ := json.Marshal(e)
		out[i] = string(b)
	}
	return out
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
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64, int, bool:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
