package check

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// availabilityChecks are the availability family, in the order they run.
var availabilityChecks = []Check{
	{ID: "pdb", Family: "availability", Run: pdbs,
		Rationale: "a PodDisruptionBudget that allows no eviction blocks every node drain",
		Upstream:  "kube-linter pdb-max-unavailable, pdb-min-available, pdb-unhealthy-pod-eviction-policy; Polaris pdbDisruptionsIsZero"},
	{ID: "hpa", Family: "availability", Run: hpas,
		Rationale: "an autoscaler keeps two replicas at least and has room to scale",
		Upstream:  "Polaris hpaMinAvailability, hpaMaxAvailability"},
	{ID: "pdb-hpa", Family: "availability", Run: pdbAgainstHPA,
		Rationale: "a budget stricter than the autoscaler's minimum blocks drains whenever it sits at the minimum",
		Upstream:  "Polaris pdbMinAvailableGreaterThanHPAMinReplicas"},
	{ID: "polaris/missingPodDisruptionBudget", Family: "availability", Run: missingPDB,
		Rationale: "Polaris's rule as written: every Deployment has a budget",
		Upstream:  "Polaris missingPodDisruptionBudget"},
	{ID: "hpa-owns-replicas", Family: "availability", Run: hpaOwnsReplicas,
		Rationale: "Flux resets spec.replicas on every reconciliation, undoing what the autoscaler scaled to",
		Upstream:  "Flux and HPA: omit replicas from a Deployment an autoscaler scales"},
}

// hpaOwnsReplicas: a Deployment an autoscaler scales carries no
// spec.replicas.
func hpaOwnsReplicas(b *Build) []Finding {
	var out []Finding
	for _, h := range b.HPAs {
		for _, d := range b.Deployments {
			if d.Namespace == h.Namespace && d.Name == h.Spec.ScaleTargetRef.Name && d.Spec.Replicas != nil {
				out = append(out, Finding{"Deployment/" + d.Name, fmt.Sprintf("spec.replicas is %d, but HorizontalPodAutoscaler/%s owns the count: remove replicas", *d.Spec.Replicas, h.Name)})
			}
		}
	}
	return out
}

// pdbs: a PodDisruptionBudget must allow disruptions and set
// unhealthyPodEvictionPolicy.
func pdbs(b *Build) []Finding {
	var out []Finding
	for _, pdb := range b.PDBs {
		if mu := pdb.Spec.MaxUnavailable; mu != nil && (mu.String() == "0" || mu.String() == "0%") {
			out = append(out, Finding{refOf(pdb), "maxUnavailable 0 prevents every disruption"})
		}
		if ma := pdb.Spec.MinAvailable; ma != nil {
			if ma.String() == "100%" {
				out = append(out, Finding{refOf(pdb), "minAvailable 100% prevents every disruption"})
			}
			if ma.Type == intstr.Int {
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err == nil {
					for _, p := range selected(b, pdb.Namespace, sel) {
						if p.Replicas != nil && ma.IntVal >= *p.Replicas {
							out = append(out, Finding{refOf(pdb), fmt.Sprintf("minAvailable %d >= %d replicas of %s", ma.IntVal, *p.Replicas, p.ref())})
						}
					}
				}
			}
		}
		if pdb.Spec.UnhealthyPodEvictionPolicy == nil {
			out = append(out, Finding{refOf(pdb), "unhealthyPodEvictionPolicy not set"})
		}
	}
	return out
}

// hpas: minReplicas >= 2 and maxReplicas > minReplicas.
func hpas(b *Build) []Finding {
	var out []Finding
	for _, h := range b.HPAs {
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		if min < 2 {
			out = append(out, Finding{refOf(h), fmt.Sprintf("minReplicas %d < 2", min)})
		}
		if h.Spec.MaxReplicas <= min {
			out = append(out, Finding{refOf(h), fmt.Sprintf("maxReplicas %d <= minReplicas %d", h.Spec.MaxReplicas, min)})
		}
	}
	return out
}

// pdbAgainstHPA: a PodDisruptionBudget over autoscaled pods must allow
// a disruption at the HPA's minimum: minAvailable below minReplicas, or
// maxUnavailable at least 1.
func pdbAgainstHPA(b *Build) []Finding {
	var out []Finding
	for _, h := range b.HPAs {
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		for _, pdb := range b.PDBs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || pdb.Namespace != h.Namespace {
				continue
			}
			for _, p := range selected(b, pdb.Namespace, sel) {
				if p.Kind != h.Spec.ScaleTargetRef.Kind || p.Name != h.Spec.ScaleTargetRef.Name {
					continue
				}
				if ma := pdb.Spec.MinAvailable; ma != nil {
					v, err := intstr.GetScaledValueFromIntOrPercent(ma, int(min), true)
					if err != nil || int32(v) >= min {
						out = append(out, Finding{refOf(pdb), fmt.Sprintf("minAvailable %s >= minReplicas %d of %s: no pod could ever be evicted", ma.String(), min, refOf(h))})
					}
				}
				if mu := pdb.Spec.MaxUnavailable; mu != nil {
					v, err := intstr.GetScaledValueFromIntOrPercent(mu, int(min), false)
					if err != nil || v < 1 {
						out = append(out, Finding{refOf(pdb), fmt.Sprintf("maxUnavailable %s allows no disruption at minReplicas %d of %s", mu.String(), min, refOf(h))})
					}
				}
			}
		}
	}
	return out
}

// missingPDB is Polaris missingPodDisruptionBudget: every Deployment's
// pods are covered by a PodDisruptionBudget.
func missingPDB(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Kind != "Deployment" {
			continue
		}
		covered := false
		for _, pdb := range b.PDBs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err == nil && pdb.Namespace == p.Namespace && !sel.Empty() && sel.Matches(labels.Set(p.Template.Labels)) {
				covered = true
			}
		}
		if !covered {
			out = append(out, Finding{p.ref(), "no PodDisruptionBudget selects its pods"})
		}
	}
	return out
}
