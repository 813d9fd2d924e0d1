package review

import (
	"encoding/json"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// flowFlags lists the flows the NetworkPolicies of new open or close
// compared with old: "flow frontend → web-api on 5000/TCP opened".
func flowFlags(old, new Objects) []Flag {
	var out []Flag
	for _, c := range setDiff(flows(old), flows(new)) {
		out = append(out, newFlag(Network, "flow %s %s", c.item, c.verb("opened", "closed")))
	}
	return out
}

// workload is a set of pods, named by the object that runs them.
type workload struct {
	name, namespace string
	labels          labels.Set
}

// endpoint is one end of a flow: a workload of the revision, or a plain
// description of what a policy names (an address block, pods of another
// namespace, pods no workload of the revision runs, anywhere).
type endpoint struct {
	name string
	w    *workload
	// covers are the workloads of the revision a described endpoint
	// includes (pods of every namespace include ours).
	covers []*workload
}

// rule is one ingress or egress rule of a policy, resolved.
type netRule struct {
	peers   []endpoint // empty: any peer
	ports   []string   // empty: any port
	anyPeer bool
}

// policySet is what a revision's NetworkPolicies say, resolved against its
// workloads.
type policySet struct {
	workloads  []*workload
	namespaces map[string]labels.Set // the namespaces the revision creates, with their labels
	// rules selecting each workload, by direction; a workload with an
	// entry is isolated in that direction.
	ingress, egress map[*workload][]netRule
}

const (
	anywhere = "anywhere"
	anyPort  = "any port"
)

// flows are the connections the NetworkPolicies of objs allow, each
// "from → to on port", between workloads when both ends are (and then
// only when the caller's egress and the server's ingress both allow it).
func flows(objs Objects) map[string]any {
	ps := policySet{namespaces: map[string]labels.Set{}, ingress: map[*workload][]netRule{}, egress: map[*workload][]netRule{}}
	for _, id := range objs.ids() {
		d := objs[id].Doc
		switch {
		case id.Kind == "Namespace" && id.Group == "":
			l := labelsOf(field(d, "metadata", "labels"))
			l["kubernetes.io/metadata.name"] = id.Name // set by the API server
			ps.namespaces[id.Name] = l
		case podTemplate(d) != nil:
			ps.workloads = append(ps.workloads, &workload{name: id.Name, namespace: id.Namespace, labels: labelsOf(field(podTemplate(d), "metadata", "labels"))})
		}
	}
	type candidate struct {
		from, to endpoint
		port     string
	}
	var candidates []candidate
	for _, id := range objs.ids() {
		if id.Kind != "NetworkPolicy" || id.Group != "networking.k8s.io" {
			continue
		}
		d := objs[id].Doc
		targets := ps.resolve(id.Namespace, field(d, "spec", "podSelector"), nil, false)
		types := map[string]bool{}
		if l, ok := field(d, "spec", "policyTypes").([]any); ok {
			for _, t := range l {
				types[fmt.Sprint(t)] = true
			}
		} else {
			types["Ingress"] = true
			types["Egress"] = field(d, "spec", "egress") != nil
		}
		for _, dir := range []struct {
			field, peers string
			rules        map[*workload][]netRule
		}{{"ingress", "from", ps.ingress}, {"egress", "to", ps.egress}} {
			if !types[strings.ToUpper(dir.field[:1])+dir.field[1:]] {
				continue
			}
			var rules []netRule
			for _, r := range items(d, "spec", dir.field) {
				rules = append(rules, ps.rule(id.Namespace, r, dir.peers))
			}
			for _, t := range targets {
				if t.w != nil {
					dir.rules[t.w] = append(dir.rules[t.w], rules...)
				}
				for _, r := range rules {
					peers := r.peers
					if r.anyPeer {
						peers = []endpoint{{name: anywhere}}
					}
					ports := r.ports
					if len(ports) == 0 {
						ports = []string{anyPort}
					}
					for _, p := range peers {
						for _, port := range ports {
							if dir.field == "ingress" {
								candidates = append(candidates, candidate{from: p, to: t, port: port})
							} else {
								candidates = append(candidates, candidate{from: t, to: p, port: port})
							}
						}
					}
				}
			}
		}
	}
	for _, w := range ps.workloads {
		if _, isolated := ps.ingress[w]; !isolated {
			candidates = append(candidates, candidate{from: endpoint{name: anywhere}, to: endpoint{name: w.name, w: w}, port: anyPort})
		}
		if _, isolated := ps.egress[w]; !isolated {
			candidates = append(candidates, candidate{from: endpoint{name: w.name, w: w}, to: endpoint{name: anywhere}, port: anyPort})
		}
	}
	out := map[string]any{}
	for _, c := range candidates {
		if c.from.w != nil && c.to.w != nil && !(ps.allows(ps.egress, c.from.w, c.to.w, c.port) && ps.allows(ps.ingress, c.to.w, c.from.w, c.port)) {
			continue
		}
		out[fmt.Sprintf("%s → %s on %s", c.from.name, c.to.name, c.port)] = nil
	}
	return out
}

// allows says whether w, in one direction, may talk to peer on port.
func (ps policySet) allows(rules map[*workload][]netRule, w, peer *workload, port string) bool {
	rs, isolated := rules[w]
	if !isolated {
		return true
	}
	for _, r := range rs {
		if len(r.ports) > 0 && !containsString(r.ports, port) {
			continue
		}
		if r.anyPeer {
			return true
		}
		for _, p := range r.peers {
			if p.w == peer {
				return true
			}
			for _, c := range p.covers {
				if c == peer {
					return true
				}
			}
		}
	}
	return false
}

func containsString(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// rule resolves one ingress (peers "from") or egress (peers "to") rule of
// a policy in namespace ns.
func (ps policySet) rule(ns string, r map[string]any, peersField string) netRule {
	var out netRule
	peers := list(r, peersField)
	if len(peers) == 0 {
		out.anyPeer = true
	}
	for _, e := range peers {
		p := asObject(e)
		if block := object(p, "ipBlock"); block != nil {
			name := str(block, "cidr")
			if ex := list(block, "except"); len(ex) > 0 {
				var s []string
				for _, e := range ex {
					s = append(s, fmt.Sprint(e))
				}
				name += " except " + strings.Join(s, ", ")
			}
			out.peers = append(out.peers, endpoint{name: name})
			continue
		}
		nsSel, hasNS := field(p, "namespaceSelector").(map[string]any)
		out.peers = append(out.peers, ps.resolve(ns, field(p, "podSelector"), nsSel, hasNS)...)
	}
	for _, e := range list(r, "ports") {
		p := asObject(e)
		proto := str(p, "protocol")
		if proto == "" {
			proto = "TCP"
		}
		port := render(field(p, "port"))
		if field(p, "port") == nil {
			port = "any port"
		}
		if end := field(p, "endPort"); end != nil {
			port += "-" + render(end)
		}
		out.ports = append(out.ports, port+"/"+proto)
	}
	return out
}

// resolve turns a pod selector (and, for a peer, a namespace selector)
// into the workloads of the revision it selects, or a plain description
// when it selects none the revision runs.
func (ps policySet) resolve(ns string, podSel any, nsSel map[string]any, hasNS bool) []endpoint {
	pods, err := selector(podSel)
	if err != nil {
		return []endpoint{{name: "pods " + describeSelector(podSel) + " (invalid selector: " + err.Error() + ")"}}
	}
	// A namespace selector resolves to the revision's workloads only when
	// it names one namespace the revision has; any other selector may
	// match namespaces we cannot see, and is described instead.
	namespaces := map[string]bool{ns: true}
	named := str(nsSel, "matchLabels", "kubernetes.io/metadata.name")
	exact := named != "" && len(nsSel) == 1 && len(object(nsSel, "matchLabels")) == 1
	if hasNS {
		namespaces = map[string]bool{}
		if _, known := ps.namespaces[named]; exact && known {
			namespaces[named] = true
		}
	}
	var out []endpoint
	for _, w := range ps.workloads {
		if namespaces[w.namespace] && pods.Matches(w.labels) {
			name := w.name
			if w.namespace != ns {
				name = w.namespace + "/" + w.name
			}
			out = append(out, endpoint{name: name, w: w})
		}
	}
	if len(out) > 0 {
		return out
	}
	who := "pods " + describeSelector(podSel)
	if pods.Empty() {
		who = "every pod"
	}
	switch {
	case !hasNS:
		if pods.Empty() {
			return []endpoint{{name: "every pod of namespace " + ns}}
		}
		return []endpoint{{name: who}}
	case exact:
		if pods.Empty() {
			return []endpoint{{name: "namespace " + named}}
		}
		return []endpoint{{name: who + " in namespace " + named}}
	}
	e := endpoint{name: who + " in namespaces " + describeSelector(nsSel)}
	if len(nsSel) == 0 {
		e.name = who + " in every namespace"
	}
	if nsel, err := selector(nsSel); err == nil {
		for _, w := range ps.workloads {
			if l, ok := ps.namespaces[w.namespace]; ok && nsel.Matches(l) && pods.Matches(w.labels) {
				e.covers = append(e.covers, w)
			}
		}
	}
	return []endpoint{e}
}

func selector(v any) (labels.Selector, error) {
	var s metav1.LabelSelector
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, err
		}
	}
	return metav1.LabelSelectorAsSelector(&s)
}

// describeSelector prints a label selector the way kubectl takes it:
// "app=web,tier in (a,b)".
func describeSelector(v any) string {
	sel, err := selector(v)
	if err != nil {
		return render(v)
	}
	if sel.Empty() {
		return "(any)"
	}
	return sel.String()
}

func labelsOf(v any) labels.Set {
	out := labels.Set{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}
