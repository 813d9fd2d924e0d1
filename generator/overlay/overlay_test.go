package overlay

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/component"
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
	// Removing from base is still impossible and said so.
	_, err = Files(Input{Base: base, Envs: []Env{{Name: "prod", Namespace: "ns", Model: nil, Reference: base}}})
	if d := cmp.Diff("overlay prod: ConfigMap/web is in base but not in the environment: an overlay cannot remove it", errString(err)); d != "" {
		t.Error(d)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
