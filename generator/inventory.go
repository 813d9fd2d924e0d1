package generator

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
	"lbl.gov/invenio-gitops/generator/overlay"
)

// SecretRef is one key of one Secret that a workload reads.
type SecretRef struct {
	Secret, Key string
	ReadBy      []string // "Kind/name" of the workloads that read it
}

// Inventory lists every Secret key the rendered objects reference, derived
// from the objects themselves (env secretKeyRefs and secret volumes): the
// sealed-secrets tooling must supply exactly these.
func Inventory(r overlay.Rendering) []SecretRef {
	refs := map[[2]string]map[string]bool{}
	add := func(secret, key, by string) {
		k := [2]string{secret, key}
		if refs[k] == nil {
			refs[k] = map[string]bool{}
		}
		refs[k][by] = true
	}
	for _, o := range r {
		by := o.Kind() + "/" + o.Name()
		walk(o.Doc, func(m map[string]any) {
			if ref, ok := m["secretKeyRef"].(map[string]any); ok {
				add(fmt.Sprint(ref["name"]), fmt.Sprint(ref["key"]), by)
			}
			if sv, ok := m["secret"].(map[string]any); ok {
				if items, ok := sv["items"].([]any); ok {
					for _, it := range items {
						if item, ok := it.(map[string]any); ok {
							add(fmt.Sprint(sv["secretName"]), fmt.Sprint(item["key"]), by)
						}
					}
				}
			}
		})
	}
	var out []SecretRef
	for k, by := range refs {
		var l []string
		for b := range by {
			l = append(l, b)
		}
		sort.Strings(l)
		out = append(out, SecretRef{Secret: k[0], Key: k[1], ReadBy: l})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Secret != out[j].Secret {
			return out[i].Secret < out[j].Secret
		}
		return out[i].Key < out[j].Key
	})
	return out
}

func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, e := range x {
			walk(e, f)
		}
	case []any:
		for _, e := range x {
			walk(e, f)
		}
	}
}

// InventoryDoc renders docs/secret-inventory.md: per environment, every
// Secret key the manifests read.
func InventoryDoc(p *config.Platform) (string, error) {
	var b strings.Builder
	b.WriteString("# Secret inventory\n\n")
	b.WriteString("Generated from the manifests by `make generate` from platform.yaml; do not edit.\n")
	b.WriteString("Every key below is read by name and key (`secretKeyRef` or a secret volume); the values arrive as SealedSecrets.\n")
	for _, e := range p.Environments {
		r, err := Render(p.Site, e, invenio.Options{})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n## %s (namespace `%s`)\n\n| Secret | Key | Read by |\n|---|---|---|\n", e.Name, e.Namespace)
		for _, s := range Inventory(r) {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", s.Secret, s.Key, strings.Join(s.ReadBy, ", "))
		}
	}
	return b.String(), nil
}

// FlowsDoc renders docs/network-flows.md: per environment, every
// connection the NetworkPolicies allow, and nothing else is allowed.
func FlowsDoc(p *config.Platform) (string, error) {
	var b strings.Builder
	b.WriteString("# Intended network flows\n\n")
	b.WriteString("Generated from the components' declared ports and calls by `make generate` from platform.yaml; do not edit.\n")
	b.WriteString("The namespace denies all ingress and egress by default; each row below is allowed by a NetworkPolicy, and no other connection is.\n")
	b.WriteString("A real analyser (np-guard's netpol-analyzer) checks that in `make test`: see [network-analysis.md](network-analysis.md).\n")
	for _, e := range p.Environments {
		cs, err := Components(p.Site, e, invenio.Options{})
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n## %s\n\n", e.Name)
		for _, ed := range edgesOf(e) {
			what := strings.ToUpper(ed.what[:1]) + ed.what[1:]
			if ed.peer.NamespaceLabels != nil {
				fmt.Fprintf(&b, "%s (`%s` in the table) is every pod of the namespaces labelled `%s` (ingress.exposure: %s).\n",
					what, ed.name, labelList(ed.peer.NamespaceLabels), e.Ingress.Exposure)
				continue
			}
			fmt.Fprintf(&b, "%s (`%s` in the table) are the pods `%s` of namespace `%s` (ingress.exposure: %s).\n",
				what, ed.name, labelList(ed.peer.Labels), ed.peer.Namespace, e.Ingress.Exposure)
		}
		b.WriteString("\n| From | To | Port | Why |\n|---|---|---|---|\n")
		rows := EnvironmentFlows(e, cs)
		for _, f := range rows {
			fmt.Fprintf(&b, "| %s | %s | %d/%s | %s |\n", f.From, f.To, f.Port, f.Protocol, f.Why)
		}
	}
	return b.String(), nil
}

// labelList writes labels as k=v, sorted, comma-separated.
func labelList(m map[string]string) string {
	var l []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		l = append(l, k+"="+m[k])
	}
	return strings.Join(l, ",")
}

// GatewayEdge names a Gateway's proxies in the flow table, and RouterEdge
// the OpenShift router, as network.IngressController names the ingress
// controller.
const (
	GatewayEdge = "gateway"
	RouterEdge  = "openshift-router"
)

// edge is one edge of an environment: its flow-table name, what it is,
// and its pods.
type edge struct {
	name, what string
	peer       network.Peer
}

// edgesOf are e's edges, in the order of Edges.
func edgesOf(e config.Environment) []edge {
	peers := Edges(e)
	var out []edge
	if e.Ingress.Exposure.Ingress() {
		out = append(out, edge{network.IngressController, "the ingress controller", peers[len(out)]})
	}
	if e.Ingress.Exposure.Gateway() {
		out = append(out, edge{GatewayEdge, "the Gateway's proxies", peers[len(out)]})
	}
	if e.Ingress.Exposure.Route() {
		out = append(out, edge{RouterEdge, "the OpenShift router", peers[len(out)]})
	}
	return out
}

// EnvironmentFlows is the flow table of environment e with components cs
// (network.Flows), each flow of the edge stated once per edge the
// environment has, under the edge's name: the rows of
// docs/network-flows.md.
func EnvironmentFlows(e config.Environment, cs []*component.Component) []network.Flow {
	var rows []network.Flow
	for _, f := range network.Flows(cs) {
		if f.From != network.IngressController {
			rows = append(rows, f)
			continue
		}
		for _, ed := range edgesOf(e) {
			g := f
			g.From = ed.name
			g.Why = strings.ReplaceAll(f.Why, "TLS ends at the controller", "TLS ends at "+ed.what)
			rows = append(rows, g)
		}
	}
	slices.SortStableFunc(rows, func(a, b network.Flow) int { return strings.Compare(a.From, b.From) })
	return rows
}
