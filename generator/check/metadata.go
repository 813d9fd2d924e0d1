package check

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// metadataChecks are the metadata family, in the order they run.
var metadataChecks = []Check{
	{ID: "labels", Family: "metadata", Run: recommendedLabels,
		Rationale: "the recommended labels on every object, selectors on the name label only (immutable selectors survive a rename)",
		Upstream:  "app.kubernetes.io labels and selectors"},
	{ID: "polaris/metadataAndInstanceMismatched", Family: "metadata", Run: instanceMatchesName,
		Rationale: "Polaris's rule as written: app.kubernetes.io/instance equals the object's name",
		Upstream:  "Polaris metadataAndInstanceMismatched"},
}

// The recommended labels.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelVersion   = "app.kubernetes.io/version"
)

func instanceMatchesName(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if got := p.Labels["app.kubernetes.io/instance"]; got != p.Name {
			out = append(out, Finding{p.ref(), fmt.Sprintf("app.kubernetes.io/instance %q is not metadata.name %q", got, p.Name)})
		}
	}
	return out
}

// recommendedLabels: every object carries the recommended labels; workloads and
// pod templates also the version; selectors use the name label only (an
// environment's namespace holds one instance, and an instance label in an
// immutable selector would make renaming site.name a change the API
// server refuses: docs/decisions.md, "Selectors name the component only").
func recommendedLabels(b *Build) []Finding {
	var out []Finding
	need := func(ref, where string, l map[string]string, keys ...string) {
		for _, k := range keys {
			if l[k] == "" {
				out = append(out, Finding{ref, fmt.Sprintf("%s lacks label %s", where, k)})
			}
		}
	}
	selector := func(ref, where string, s *metav1.LabelSelector) {
		if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
			return // empty: selects everything (namespace-wide policies) or nothing to check
		}
		if len(s.MatchExpressions) != 0 {
			out = append(out, Finding{ref, where + " uses matchExpressions"})
		}
		keys := sortedKeys(s.MatchLabels)
		if !reflect.DeepEqual(keys, []string{labelName}) {
			out = append(out, Finding{ref, fmt.Sprintf("%s uses labels %v, want exactly %s", where, keys, labelName)})
		}
	}
	for _, o := range b.Objects {
		m := o.(metav1.Object)
		need(refOf(o), "metadata", m.GetLabels(), labelName, labelInstance, labelComponent, labelPartOf, labelManagedBy)
		switch x := o.(type) {
		case *corev1.Service:
			if len(x.Spec.Selector) > 0 {
				selector(refOf(o), "selector", &metav1.LabelSelector{MatchLabels: x.Spec.Selector})
			}
		case *networkingv1.NetworkPolicy:
			selector(refOf(o), "podSelector", &x.Spec.PodSelector)
			var peers []networkingv1.NetworkPolicyPeer
			for _, r := range x.Spec.Ingress {
				peers = append(peers, r.From...)
			}
			for _, r := range x.Spec.Egress {
				peers = append(peers, r.To...)
			}
			for _, peer := range peers {
				// Peers in other namespaces (ingress controller, DNS) carry
				// their own labels.
				if peer.NamespaceSelector == nil && peer.PodSelector != nil {
					selector(refOf(o), "peer podSelector", peer.PodSelector)
				}
			}
		}
	}
	for _, p := range b.Pods {
		need(p.ref(), "workload metadata", p.Labels, labelVersion)
		need(p.ref(), "pod template", p.Template.Labels, labelName, labelInstance, labelComponent, labelPartOf, labelManagedBy, labelVersion)
		if p.Job == nil || p.Selector != nil {
			selector(p.ref(), "selector", p.Selector)
		}
	}
	return out
}
