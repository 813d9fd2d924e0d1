// Package network derives everything that follows from who talks to whom:
// ClusterIP Services from the ports components serve, ServiceAccounts, and
// NetworkPolicies from the calls components declare — default-deny for the
// namespace, DNS for everyone, and one allow rule per real flow. It also
// produces the table of intended flows that docs/ and the tests read.
package network

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"lbl.gov/invenio-gitops/generator/component"
)

// Options are the facts about the cluster around the namespace.
type Options struct {
	// Edges receive the traffic from outside and pass it to the frontend
	// (and, during an HTTP-01 challenge, to cert-manager's solver): the
	// ingress controller, a Gateway's proxies or the OpenShift router;
	// the first two side by side during a migration.
	Edges []Peer
	// Prometheus scrapes the components' metrics ports; nil when the
	// environment is not monitored.
	Prometheus *Peer
}

// Peer is a set of pods in another namespace: the pods with Labels (all
// when empty) in the namespace named Namespace, or, when NamespaceLabels
// is set, in every namespace with those labels (OpenShift's router runs in
// the host network: its traffic comes from a namespace labelled so).
type Peer struct {
	Namespace       string
	NamespaceLabels map[string]string
	Labels          map[string]string
}

// Flow is one allowed connection.
type Flow struct {
	From, To string // component names, or "ingress-controller", "kube-dns", "outside"
	Port     int32
	Protocol string
	Why      string
}

func (f Flow) String() string {
	return fmt.Sprintf("%s → %s:%d/%s", f.From, f.To, f.Port, f.Protocol)
}

// IngressController and the other non-component ends of a flow.
const (
	IngressController = "ingress-controller"
	Prometheus        = "prometheus"
	KubeDNS           = "kube-dns"
	Outside           = "outside"
	// ACMESolver is the pod cert-manager starts in the namespace to answer
	// an HTTP-01 challenge while it gets or renews the TLS certificate.
	ACMESolver = "acme-http01-solver"
)

// acmeSolverPort is where cert-manager's HTTP-01 solver listens, and
// acmeSolverLabel the label cert-manager gives its pods.
const (
	acmeSolverPort  = 8089
	acmeSolverLabel = "acme.cert-manager.io/http01-solver"
)

// Derive adds the derived objects to every component: ServiceAccount,
// Service and NetworkPolicy for components with pods; the namespace-wide
// policies to the namespace component. It fails when a call names a
// component or port that does not exist.
func Derive(meta component.Meta, opt Options, cs []*component.Component) error {
	idx := component.Index(cs)
	callers := map[string][]caller{} // server → who calls it
	for _, c := range cs {
		for _, call := range c.Calls {
			srv, ok := idx[call.To]
			if !ok {
				return fmt.Errorf("%s calls %s, which is not part of this environment", c.Name, call.To)
			}
			p, ok := srv.Port(call.Port)
			if !ok {
				return fmt.Errorf("%s calls port %q of %s, which it does not serve", c.Name, call.Port, call.To)
			}
			callers[call.To] = append(callers[call.To], caller{c, p})
		}
	}
	for _, c := range cs {
		for _, m := range c.Metrics {
			if _, ok := c.Port(m.Port); !ok {
				return fmt.Errorf("%s declares metrics on port %q, which it does not serve", c.Name, m.Port)
			}
			if opt.Prometheus == nil {
				return fmt.Errorf("%s declares metrics, but the environment names no Prometheus to scrape them", c.Name)
			}
		}
	}
	for _, c := range cs {
		if c.Layer == component.LayerNamespace {
			c.Objects = append(c.Objects, namespacePolicies(meta, opt, c)...)
			continue
		}
		if !c.HasPods {
			continue
		}
		c.Objects = append(c.Objects, meta.ServiceAccount(c))
		if len(c.Serves) > 0 {
			c.Objects = append(c.Objects, service(meta, c))
		}
		// Callers that are always there are allowed in the server's own
		// policy; an optional caller brings its own allowance, so switching
		// it off removes every trace of it.
		var steady []caller
		for _, k := range callers[c.Name] {
			if !k.c.Optional || k.c == c {
				steady = append(steady, k)
			}
		}
		c.Objects = append(c.Objects, policy(meta, opt, c, steady, idx))
		if c.Optional {
			for _, call := range c.Calls {
				srv := idx[call.To]
				if srv.Optional {
					continue
				}
				p, _ := srv.Port(call.Port)
				c.Objects = append(c.Objects, allowFrom(meta, c, srv, p))
			}
		}
	}
	return nil
}

type caller struct {
	c    *component.Component
	port component.Port
}

func typeMeta(kind string) metav1.TypeMeta {
	if kind == "NetworkPolicy" {
		return metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: kind}
	}
	return metav1.TypeMeta{APIVersion: "v1", Kind: kind}
}

func service(meta component.Meta, c *component.Component) *corev1.Service {
	var ports []corev1.ServicePort
	for _, p := range c.Serves {
		ports = append(ports, corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: intstr.FromString(p.Name), Protocol: corev1.ProtocolTCP})
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("Service"),
		ObjectMeta: meta.ObjectMeta(c, c.Name),
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: meta.Selector(c), Ports: ports},
	}
}

var tcp, udp = corev1.ProtocolTCP, corev1.ProtocolUDP

func portRule(p int32, proto *corev1.Protocol) networkingv1.NetworkPolicyPort {
	v := intstr.FromInt32(p)
	return networkingv1.NetworkPolicyPort{Protocol: proto, Port: &v}
}

var both = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}

// namespacePolicies deny all traffic in and out of every pod of the
// namespace, then allow DNS and the ingress controller's route to
// cert-manager's HTTP-01 solver (without it, default-deny makes every
// certificate issue and renewal time out): every other flow is allowed
// explicitly.
func namespacePolicies(meta component.Meta, opt Options, ns *component.Component) []component.Object {
	deny := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("NetworkPolicy"),
		ObjectMeta: meta.ObjectMeta(ns, "default-deny"),
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{}, PolicyTypes: both},
	}
	dns := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("NetworkPolicy"),
		ObjectMeta: meta.ObjectMeta(ns, "allow-dns"),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{
					NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "kube-system"}},
					PodSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				}},
				Ports: []networkingv1.NetworkPolicyPort{portRule(53, &udp), portRule(53, &tcp)},
			}},
		},
	}
	acme := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("NetworkPolicy"),
		ObjectMeta: meta.ObjectMeta(ns, "allow-"+ACMESolver),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{acmeSolverLabel: "true"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  edgePeers(opt),
				Ports: []networkingv1.NetworkPolicyPort{portRule(acmeSolverPort, &tcp)},
			}},
		},
	}
	return []component.Object{deny, dns, acme}
}

func (p *Peer) peer() networkingv1.NetworkPolicyPeer {
	if p.NamespaceLabels != nil {
		out := networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{MatchLabels: p.NamespaceLabels}}
		if len(p.Labels) > 0 {
			out.PodSelector = &metav1.LabelSelector{MatchLabels: p.Labels}
		}
		return out
	}
	return networkingv1.NetworkPolicyPeer{
		NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": p.Namespace}},
		PodSelector:       &metav1.LabelSelector{MatchLabels: p.Labels},
	}
}

// scraped reports whether Prometheus scrapes port p of c.
func scraped(c *component.Component, p string) bool {
	for _, m := range c.Metrics {
		if m.Port == p {
			return true
		}
	}
	return false
}

func edgePeers(opt Options) []networkingv1.NetworkPolicyPeer {
	var out []networkingv1.NetworkPolicyPeer
	for _, e := range opt.Edges {
		out = append(out, e.peer())
	}
	return out
}

// policy allows c's callers in and c's calls out.
func policy(meta component.Meta, opt Options, c *component.Component, callers []caller, idx map[string]*component.Component) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("NetworkPolicy"),
		ObjectMeta: meta.ObjectMeta(c, c.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: meta.Selector(c)},
			PolicyTypes: both,
		},
	}
	// Ingress: one rule per served port, listing every caller of it.
	for _, p := range c.Serves {
		var from []networkingv1.NetworkPolicyPeer
		if c.FromIngressController == p.Name {
			from = append(from, edgePeers(opt)...)
		}
		if scraped(c, p.Name) {
			from = append(from, opt.Prometheus.peer())
		}
		seen := map[string]bool{}
		for _, k := range callers {
			if k.port.Name == p.Name && !seen[k.c.Name] {
				seen[k.c.Name] = true
				from = append(from, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: meta.Selector(k.c)}})
			}
		}
		if len(from) > 0 {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: from, Ports: []networkingv1.NetworkPolicyPort{portRule(p.Port, &tcp)}})
		}
	}
	// Egress: one rule per call.
	for _, call := range c.Calls {
		srv := idx[call.To]
		p, _ := srv.Port(call.Port)
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{
			To:    []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: meta.Selector(srv)}}},
			Ports: []networkingv1.NetworkPolicyPort{portRule(p.Port, &tcp)},
		})
	}
	for _, ext := range c.External {
		var to []networkingv1.NetworkPolicyPeer
		for _, cidr := range ext.CIDRs {
			to = append(to, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr}})
		}
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: to, Ports: []networkingv1.NetworkPolicyPort{portRule(ext.Port, &tcp)}})
	}
	return np
}

// allowFrom lets an optional component reach a server: it lives with the
// optional component, so it comes and goes with it.
func allowFrom(meta component.Meta, from, to *component.Component, p component.Port) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   typeMeta("NetworkPolicy"),
		ObjectMeta: meta.ObjectMeta(from, to.Name+"-from-"+from.Name),
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: meta.Selector(to)},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: meta.Selector(from)}}},
				Ports: []networkingv1.NetworkPolicyPort{portRule(p.Port, &tcp)},
			}},
		},
	}
}

// Flows is the table of intended connections, sorted: what the policies
// must allow and nothing more.
func Flows(cs []*component.Component) []Flow {
	idx := component.Index(cs)
	var fs []Flow
	for _, c := range cs {
		if c.Layer == component.LayerNamespace {
			fs = append(fs, Flow{From: IngressController, To: ACMESolver, Port: acmeSolverPort, Protocol: "TCP", Why: "cert-manager HTTP-01 challenge (TLS certificate issue and renewal)"})
			// allow-dns selects every pod of the namespace, the solver too.
			fs = append(fs, Flow{From: ACMESolver, To: KubeDNS, Port: 53, Protocol: "UDP", Why: "name resolution (allowed to every pod of the namespace)"},
				Flow{From: ACMESolver, To: KubeDNS, Port: 53, Protocol: "TCP", Why: "name resolution (allowed to every pod of the namespace)"})
		}
		if !c.HasPods {
			continue
		}
		fs = append(fs, Flow{From: c.Name, To: KubeDNS, Port: 53, Protocol: "UDP", Why: "name resolution"},
			Flow{From: c.Name, To: KubeDNS, Port: 53, Protocol: "TCP", Why: "name resolution"})
		if c.FromIngressController != "" {
			p, _ := c.Port(c.FromIngressController)
			fs = append(fs, Flow{From: IngressController, To: c.Name, Port: p.Port, Protocol: "TCP", Why: "public HTTPS traffic (TLS ends at the controller)"})
		}
		for _, m := range c.Metrics {
			p, _ := c.Port(m.Port)
			fs = append(fs, Flow{From: Prometheus, To: c.Name, Port: p.Port, Protocol: "TCP", Why: "metrics scrape (" + m.Path + ")"})
		}
		for _, call := range c.Calls {
			p, _ := idx[call.To].Port(call.Port)
			fs = append(fs, Flow{From: c.Name, To: call.To, Port: p.Port, Protocol: "TCP", Why: call.Port})
		}
		for _, ext := range c.External {
			fs = append(fs, Flow{From: c.Name, To: Outside, Port: ext.Port, Protocol: "TCP", Why: ext.Why})
		}
	}
	sort.Slice(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.From != b.From {
			return a.From < b.From
		}
		if a.To != b.To {
			return a.To < b.To
		}
		if a.Port != b.Port {
			return a.Port < b.Port
		}
		return a.Protocol < b.Protocol
	})
	return fs
}
