package generator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAdmissionProblems: which maps of an object are read as labels and
// annotations, and what each limit reports.
func TestAdmissionProblems(t *testing.T) {
	long := strings.Repeat("x", 64)
	obj := func(kind string, spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "a", "namespace": "ns"}, "spec": spec}
	}
	cases := []struct {
		name string
		obj  map[string]any
		want []string
	}{
		{"pod template label", obj("Deployment", map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"k": long}}}}),
			[]string{"(spec.template.metadata.labels) the label k:"}},
		{"matchLabels in a list", obj("NetworkPolicy", map[string]any{"ingress": []any{map[string]any{"from": []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"k": long}}}}}}}),
			[]string{"(spec.ingress[0].from[0].podSelector.matchLabels) the label k:"}},
		{"Service selector", obj("Service", map[string]any{"selector": map[string]any{"k": long}}),
			[]string{"(spec.selector) the label k:"}},
		{"a Prometheus rule's labels are not Kubernetes labels", obj("PrometheusRule", map[string]any{"groups": []any{map[string]any{"rules": []any{map[string]any{"labels": map[string]any{"summary": "two words " + long}}}}}}),
			nil},
		{"a ConfigMap's selector-like data is data", obj("ConfigMap", map[string]any{"selector": map[string]any{"k": long}}),
			nil},
		{"annotations over 256 KiB", obj("Deployment", map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]any{"k": strings.Repeat("a", 256<<10)}}}}),
			[]string{"the annotations in spec.template.metadata.annotations"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, p := range admissionProblems(c.obj) {
				got = append(got, p.what)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("problems (-want +got):\n%s", d)
			}
		})
	}
}
