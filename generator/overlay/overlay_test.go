package overlay

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/tree"
)

// TestEnvironmentOnlyObjectsBecomeOverlayResources: an object that neither
// base nor an enabled component has (an HPA, a monitor) is written once,
// in the environment's layer directory, and listed as a resource of that
// layer's kustomization; base is untouched.
func TestEnvironmentOnlyObjectsBecomeOverlayResources(t *testing.T) {
	obj := func(layer component.Layer, comp, kind, name string) Object {
		return Object{Layer: layer, Component: comp, Doc: map[string]any{"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": name}}}
	}
	base := Rendering{obj(component.LayerApp, "web", "ConfigMap", "web")}
	model := append(Rendering{}, base...)
	model = append(model, obj(component.LayerApp, "web", "HorizontalPodAutoscaler", "web"), obj(component.LayerData, "exporter", "Service", "exporter"))
	tr, err := Files(Input{Base: base, Envs: []Env{{Name: "prod", Namespace: "ns", Model: model, Reference: base}}})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"overlays/prod/app/web.yaml":            {"kind: HorizontalPodAutoscaler"},
		"overlays/prod/app/kustomization.yaml":  {"- ../../../base/app\n- web.yaml\n"},
		"overlays/prod/data/exporter.yaml":      {"kind: Service"},
		"overlays/prod/data/kustomization.yaml": {"- ../../../base/data\n- exporter.yaml\n"},
	} {
		got, ok := tr[file]
		if !ok {
			t.Errorf("%s not written (have %v)", file, tr.Paths())
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s lacks %q:\n%s", file, w, got)
			}
		}
	}
	if strings.Contains(string(tr["base/app/web.yaml"]), "HorizontalPodAutoscaler") {
		t.Error("an environment's own object leaked into base")
	}
}

// TestBaseObjectsTheEnvironmentLacksAreDeleted: an object of base (or of
// an enabled component) that the environment does not have — its
// monitoring or an autoscaler switched off where defaults: switch them on
// — is removed by a `$patch: delete` patch in its layer, whatever its kind.
func TestBaseObjectsTheEnvironmentLacksAreDeleted(t *testing.T) {
	obj := func(layer component.Layer, comp, apiVersion, kind, name string) Object {
		return Object{Layer: layer, Component: comp, Doc: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}}}
	}
	web := obj(component.LayerApp, "web", "v1", "ConfigMap", "web")
	hpa := obj(component.LayerApp, "web", "autoscaling/v2", "HorizontalPodAutoscaler", "web")
	monitor := obj(component.LayerData, "exporter", "monitoring.coreos.com/v1", "ServiceMonitor", "exporter")
	base := Rendering{web, hpa, monitor}
	tr, err := Files(Input{Base: base, Envs: []Env{{Name: "dev", Namespace: "ns", Model: Rendering{web}, Reference: base}}})
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"overlays/dev/app/patches/delete-horizontalpodautoscaler-web.yaml": tree.Header +
			"$patch: delete\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n",
		"overlays/dev/data/patches/delete-servicemonitor-exporter.yaml": tree.Header +
			"$patch: delete\napiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: exporter\n",
	} {
		if d := cmp.Diff(want, string(tr[file])); d != "" {
			t.Errorf("%s (-want +got):\n%s", file, d)
		}
	}
	for file, want := range map[string]string{
		"overlays/dev/app/kustomization.yaml":  "patches:\n- path: patches/delete-horizontalpodautoscaler-web.yaml\n",
		"overlays/dev/data/kustomization.yaml": "patches:\n- path: patches/delete-servicemonitor-exporter.yaml\n",
	} {
		if !strings.Contains(string(tr[file]), want) {
			t.Errorf("%s lacks %q:\n%s", file, want, tr[file])
		}
	}
}
