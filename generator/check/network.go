package check

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// networkChecks are the network family, in the order they run.
var networkChecks = []Check{
	{ID: "network-policies", Family: "network", Run: networkPolicies,
		Rationale: "default deny and one policy per pod: a compromised pod reaches only what it must",
		Upstream:  "default-deny plus one policy per pod"},
	{ID: "polaris/missingNetworkPolicy", Family: "network", Run: polarisNetworkPolicy,
		Rationale: "Polaris's rule as written: each pod's policy has an ingress and an egress rule",
		Upstream:  "Polaris missingNetworkPolicy"},
	{ID: "ingress-tls", Family: "network", Run: ingressTLS,
		Rationale: "every host is served over TLS, with a certificate cert-manager renews",
		Upstream:  "Polaris tlsSettingsMissing"},
	{ID: "gateway-tls", Family: "network", Run: gatewayTLS,
		Rationale: "a Gateway serves its hosts over TLS, with a certificate cert-manager issues for each host, and plain HTTP only redirects",
		Upstream:  "Polaris tlsSettingsMissing, in Gateway API terms"},
	{ID: "dangling-network-policy", Family: "network", Run: danglingNetworkPolicies,
		Rationale: "a policy that selects no pod is left behind by a removed workload, or its selector is wrong and the pod it meant is cut off",
		Upstream:  "kube-linter dangling-networkpolicy"},
}

// ingressTLS: every Ingress serves TLS for each of its hosts.
func ingressTLS(b *Build) []Finding {
	var out []Finding
	for _, ing := range b.Ingresses {
		tls := map[string]bool{}
		for _, t := range ing.Spec.TLS {
			for _, h := range t.Hosts {
				tls[h] = true
			}
			if t.SecretName == "" {
				out = append(out, Finding{refOf(ing), "TLS entry without secretName"})
			}
		}
		if len(ing.Spec.TLS) == 0 {
			out = append(out, Finding{refOf(ing), "no TLS"})
		}
		for _, r := range ing.Spec.Rules {
			if !tls[r.Host] {
				out = append(out, Finding{refOf(ing), fmt.Sprintf("host %q is not covered by TLS", r.Host)})
			}
		}
	}
	return out
}

// danglingNetworkPolicies: every policy with a pod selector selects a pod
// template of the build.
func danglingNetworkPolicies(b *Build) []Finding {
	var out []Finding
	for _, np := range b.NetworkPolicies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			out = append(out, Finding{"NetworkPolicy/" + np.Name, "podSelector: " + err.Error()})
			continue
		}
		if !sel.Empty() && len(selected(b, np.Namespace, sel)) == 0 {
			out = append(out, Finding{"NetworkPolicy/" + np.Name, fmt.Sprintf("podSelector %s selects no pod of the build", sel)})
		}
	}
	return out
}

func isDefaultDeny(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PodSelector.MatchLabels) != 0 || len(np.Spec.PodSelector.MatchExpressions) != 0 {
		return false, false
	}
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress && len(np.Spec.Ingress) == 0 {
			ingress = true
		}
		if t == networkingv1.PolicyTypeEgress && len(np.Spec.Egress) == 0 {
			egress = true
		}
	}
	return ingress, egress
}

// networkPolicies: the namespace denies all ingress and egress by
// default, and every pod is selected by at least one policy of its own
// (a non-empty podSelector) besides the namespace-wide ones.
func networkPolicies(b *Build) []Finding {
	var out []Finding
	var denyIn, denyOut bool
	for _, np := range b.NetworkPolicies {
		i, e := isDefaultDeny(np)
		denyIn, denyOut = denyIn || i, denyOut || e
	}
	if !denyIn {
		out = append(out, Finding{"NetworkPolicy", "no default-deny for Ingress (empty podSelector, policyTypes Ingress, no rules)"})
	}
	if !denyOut {
		out = append(out, Finding{"NetworkPolicy", "no default-deny for Egress (empty podSelector, policyTypes Egress, no rules)"})
	}
	for _, p := range b.Pods {
		selected := false
		for _, np := range b.NetworkPolicies {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err == nil && !sel.Empty() && np.Namespace == p.Namespace && sel.Matches(labels.Set(p.Template.Labels)) {
				selected = true
			}
		}
		if !selected {
			out = append(out, Finding{p.ref(), "no NetworkPolicy besides the namespace-wide ones selects its pods"})
		}
	}
	return out
}

// polarisNetworkPolicy is Polaris missingNetworkPolicy: a policy whose
// matchLabels select the pod, with both policy types and at least one
// ingress and one egress rule (over all policies selecting the pod).
func polarisNetworkPolicy(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		var ingress, egress, selected bool
		for _, np := range b.NetworkPolicies {
			ml := np.Spec.PodSelector.MatchLabels
			if len(ml) == 0 || np.Namespace != p.Namespace || !labels.SelectorFromSet(ml).Matches(labels.Set(p.Template.Labels)) {
				continue
			}
			selected = true
			types := map[networkingv1.PolicyType]bool{}
			for _, t := range np.Spec.PolicyTypes {
				types[t] = true
			}
			ingress = ingress || (types[networkingv1.PolicyTypeIngress] && len(np.Spec.Ingress) > 0)
			egress = egress || (types[networkingv1.PolicyTypeEgress] && len(np.Spec.Egress) > 0)
		}
		switch {
		case !selected:
			out = append(out, Finding{p.ref(), "no NetworkPolicy matchLabels select its pods"})
		default:
			if !ingress {
				out = append(out, Finding{p.ref(), "no ingress rule in the NetworkPolicies selecting its pods"})
			}
			if !egress {
				out = append(out, Finding{p.ref(), "no egress rule in the NetworkPolicies selecting its pods"})
			}
		}
	}
	return out
}

// gatewayTLS: every Gateway has an HTTPS listener; each HTTPS listener
// names its host (cert-manager issues a certificate per listener
// hostname) and its certificate Secret; an HTTPRoute of the build attached
// to a plain-HTTP listener does nothing but redirect to https.
func gatewayTLS(b *Build) []Finding {
	var out []Finding
	for _, gw := range b.Gateways {
		https := false
		for _, l := range gw.Spec.Listeners {
			if l.Protocol != gwapiv1.HTTPSProtocolType {
				continue
			}
			https = true
			if l.Hostname == nil || *l.Hostname == "" {
				out = append(out, Finding{refOf(gw), fmt.Sprintf("listener %s has no hostname: cert-manager issues no certificate for it", l.Name)})
			}
			if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
				out = append(out, Finding{refOf(gw), fmt.Sprintf("listener %s has no certificate Secret", l.Name)})
			}
		}
		if !https {
			out = append(out, Finding{refOf(gw), "no HTTPS listener"})
		}
	}
	for _, r := range b.HTTPRoutes {
		for _, ref := range r.Spec.ParentRefs {
			l, ok := listenerOf(b, r.Namespace, ref)
			if !ok || l.Protocol != gwapiv1.HTTPProtocolType {
				continue
			}
			for _, rule := range r.Spec.Rules {
				if !redirectsToHTTPS(rule) {
					out = append(out, Finding{refOf(r), fmt.Sprintf("serves plain HTTP on listener %s of Gateway/%s: only a redirect to https belongs there", l.Name, ref.Name)})
				}
			}
		}
	}
	return out
}

// redirectsToHTTPS reports whether rule only redirects to https.
func redirectsToHTTPS(rule gwapiv1.HTTPRouteRule) bool {
	if len(rule.BackendRefs) > 0 {
		return false
	}
	for _, f := range rule.Filters {
		if f.Type == gwapiv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil &&
			f.RequestRedirect.Scheme != nil && *f.RequestRedirect.Scheme == "https" {
			return true
		}
	}
	return false
}

// listenerOf is the listener of the build's Gateway a route's parentRef
// names (the first when it names no section), or false.
func listenerOf(b *Build, namespace string, ref gwapiv1.ParentReference) (gwapiv1.Listener, bool) {
	ns := namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	for _, gw := range b.Gateways {
		if gw.Name != string(ref.Name) || gw.Namespace != ns {
			continue
		}
		for _, l := range gw.Spec.Listeners {
			if ref.SectionName == nil || l.Name == *ref.SectionName {
				return l, true
			}
		}
	}
	return gwapiv1.Listener{}, false
}
