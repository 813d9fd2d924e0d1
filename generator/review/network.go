package review

import (
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
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
		var np networkingv1.NetworkPolicy
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(objs[id].Doc, &np); err != nil {
			continue // the API server refuses it: the field changes show it
		}
		targets := ps.resolve(id.Namespace, &np.Spec.PodSelector, nil)
		types := map[networkingv1.PolicyType]bool{}
		if np.Spec.PolicyTypes != nil {
			for _, t := range np.Spec.PolicyTypes {
				types[t] = true
			}
		} else { // the API server's default
			types[networkingv1.PolicyTypeIngress] = true
			types[networkingv1.PolicyTypeEgress] = np.Spec.Egress != nil
		}
		var ingress, egress []netRule
		for _, r := range np.Spec.Ingress {
			ingress = append(ingress, ps.rule(id.Namespace, r.From, r.Ports))
		}
		for _, r := range np.Spec.Egress {
			egress = append(egress, ps.rule(id.Namespace, r.To, r.Ports))
		}
		for _, dir := range []struct {
			policyType networkingv1.PolicyType
			rules      []netRule
			of         map[*workload][]netRule
		}{{networkingv1.PolicyTypeIngress, ingress, ps.ingress}, {networkingv1.PolicyTypeEgress, egress, ps.egress}} {
			if !types[dir.policyType] {
				continue
			}
			for _, t := range targets {
				if t.w != nil {
					dir.of[t.w] = append(dir.of[t.w], dir.rules...)
				}
				for _, r := range dir.rules {
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
							if dir.policyType == networkingv1.PolicyTypeIngress {
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

// rule resolves one ingress rule (peers: its from) or egress rule (its
// to) of a policy in namespace ns.
func (ps policySet) rule(ns string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) netRule {
	var out netRule
	if len(peers) == 0 {
		out.anyPeer = true
	}
	for _, p := range peers {
		if b := p.IPBlock; b != nil {
			name := b.CIDR
			if len(b.Except) > 0 {
				name += " except " + strings.Join(b.Except, ", ")
			}
			out.peers = append(out.peers, endpoint{name: name})
			continue
		}
		out.peers = append(out.peers, ps.resolve(ns, p.PodSelector, p.NamespaceSelector)...)
	}
	for _, p := range ports {
		proto := corev1.ProtocolTCP // the API server's default
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		port := "any port"
		if p.Port != nil {
			port = render(p.Port.String())
		}
		if p.EndPort != nil {
			port += "-" + fmt.Sprint(*p.EndPort)
		}
		out.ports = append(out.ports, port+"/"+string(proto))
	}
	return out
}

// resolve turns a pod selector (nil: every pod) and, for a peer, a
// namespace selector (nil: the policy's namespace) into the workloads of
// the revision it selects, or a plain description when it selects none
// the revision runs.
func (ps policySet) resolve(ns string, podSel, nsSel *metav1.LabelSelector) []endpoint {
	if podSel == nil {
		podSel = &metav1.LabelSelector{}
	}
	pods, err := metav1.LabelSelectorAsSelector(podSel)
	if err != nil {
		return []endpoint{{name: "pods " + describeSelector(podSel) + " (invalid selector: " + err.Error() + ")"}}
	}
	// A namespace selector resolves to the revision's workloads only when
	// it names one namespace the revision has; any other selector may
	// match namespaces we cannot see, and is described instead.
	namespaces := map[string]bool{ns: true}
	var named string
	exact := false
	if nsSel != nil {
		named = nsSel.MatchLabels["kubernetes.io/metadata.name"]
		exact = named != "" && len(nsSel.MatchLabels) == 1 && len(nsSel.MatchExpressions) == 0
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
	case nsSel == nil:
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
	if len(nsSel.MatchLabels) == 0 && len(nsSel.MatchExpressions) == 0 {
		e.name = who + " in every namespace"
	}
	if nsel, err := metav1.LabelSelectorAsSelector(nsSel); err == nil {
		for _, w := range ps.workloads {
			if l, ok := ps.namespaces[w.namespace]; ok && nsel.Matches(l) && pods.Matches(w.labels) {
				e.covers = append(e.covers, w)
			}
		}
	}
	return []endpoint{e}
}

// describeSelector prints a label selector the way kubectl takes it:
// "app=web,tier in (a,b)".
func describeSelector(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		b, _ := json.Marshal(sel)
		return string(b)
	}
	if s.Empty() {
		return "(any)"
	}
	return s.String()
}

func labelsOf(v any) labels.Set {
	out := labels.Set{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = fmt.Sprint(x)
	}
	return out
}
