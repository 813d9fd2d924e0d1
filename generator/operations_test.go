package generator

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/crds"
	"lbl.gov/invenio-gitops/generator/invenio"
)

// TestMonitoringSchemas validates every Prometheus Operator object of every
// environment's kustomize build against the CRD schemas of the pinned
// module (generator/crds/prometheus-operator), as the API server would.
func TestMonitoringSchemas(t *testing.T) {
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	p, tr := generate(t)
	kinds := map[string]int{}
	for _, e := range p.Environments {
		built, err := BuildYAML(tr, "overlays/"+string(e.Name))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range decodeStream(t, built) {
			if !strings.HasPrefix(d["apiVersion"].(string), "monitoring.coreos.com/") {
				continue
			}
			kinds[d["kind"].(string)]++
			for _, err := range set.Validate(d) {
				t.Errorf("%s: %s: %v", e.Name, key(d), err)
			}
		}
	}
	for _, k := range []string{"ServiceMonitor", "PrometheusRule"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was validated", k)
		}
	}
	// The validator rejects what the API server would.
	bad := map[string]any{"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
		"metadata": map[string]any{"name": "x", "namespace": "x"},
		"spec":     map[string]any{"selector": map[string]any{}, "endpoints": []any{map[string]any{"port": "metrics", "interval": "30 seconds"}}}}
	if len(set.Validate(bad)) == 0 {
		t.Error(`a ServiceMonitor with interval "30 seconds" validated`)
	}
}

// scalingMismatches compares one environment's replicable workloads, as
// built (rows by workload), with what its description asks for.
func scalingMismatches(env string, ws config.Workloads, rows map[string]OperationsRow) []string {
	names := map[string]func(config.Workloads) config.Workload{
		invenio.WebUI:    func(w config.Workloads) config.Workload { return w.WebUI },
		invenio.WebAPI:   func(w config.Workloads) config.Workload { return w.WebAPI },
		invenio.Frontend: func(w config.Workloads) config.Workload { return w.Frontend },
		invenio.Worker:   func(w config.Workloads) config.Workload { return w.Worker },
	}
	var out []string
	for _, name := range []string{invenio.Frontend, invenio.WebAPI, invenio.WebUI, invenio.Worker} {
		w := names[name](ws)
		r, ok := rows[name]
		if !ok {
			out = append(out, fmt.Sprintf("%s: %s does not spread over nodes", env, name))
			continue
		}
		if a := w.Autoscaling; a.Enabled {
			if want := fmt.Sprintf("%d–%d", a.MinReplicas, a.MaxReplicas); r.HPA != want || r.Replicas != "HPA" {
				out = append(out, fmt.Sprintf("%s: %s has HPA %s and replicas %s, want HPA %s and no replica count", env, name, r.HPA, r.Replicas, want))
			}
		} else if r.HPA != "—" || r.Replicas != fmt.Sprint(w.Replicas) {
			out = append(out, fmt.Sprintf("%s: %s has HPA %s and replicas %s, want no HPA and %d", env, name, r.HPA, r.Replicas, w.Replicas))
		}
		if wantPDB := w.Replicated() > 1; wantPDB != (r.PDB != "—") {
			out = append(out, fmt.Sprintf("%s: %s runs at least %d pods but PDB is %q", env, name, w.Replicated(), r.PDB))
		}
	}
	return out
}

// TestScalingFollowsTheDescription: in each environment's build, every
// workload the description autoscales has an HPA on its Deployment and no
// replica count; every one that runs two pods or more has a PDB; the
// others have neither.
func TestScalingFollowsTheDescription(t *testing.T) {
	p, tr := generate(t)
	hpas := 0
	for _, e := range p.Environments {
		built, err := BuildYAML(tr, "overlays/"+string(e.Name))
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]OperationsRow{}
		ops, err := OperationsRows(built)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ops {
			rows[r.Workload] = r
			if r.HPA != "—" {
				hpas++
			}
		}
		for _, m := range scalingMismatches(string(e.Name), e.Workloads, rows) {
			t.Error(m)
		}
	}
	if hpas == 0 {
		t.Fatal("no environment autoscales anything: the test would pass vacuously")
	}
}

// TestScalingMismatchesAreFound: each way a build can disagree with its
// description is reported.
func TestScalingMismatchesAreFound(t *testing.T) {
	ws := config.Defaults().Workloads
	ws.WebUI.Autoscaling.Enabled = true // 2–4
	ws.Frontend.Replicas = 2
	good := map[string]OperationsRow{
		invenio.WebUI:    {Workload: invenio.WebUI, Replicas: "HPA", HPA: "2–4", PDB: "maxUnavailable 1"},
		invenio.WebAPI:   {Workload: invenio.WebAPI, Replicas: "1", HPA: "—", PDB: "—"},
		invenio.Frontend: {Workload: invenio.Frontend, Replicas: "2", HPA: "—", PDB: "maxUnavailable 1"},
		invenio.Worker:   {Workload: invenio.Worker, Replicas: "1", HPA: "—", PDB: "—"},
	}
	if m := scalingMismatches("x", ws, good); len(m) != 0 {
		t.Fatalf("a matching build is reported: %v", m)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]OperationsRow)
		want string
	}{
		{"HPA missing", func(r map[string]OperationsRow) {
			x := r[invenio.WebUI]
			x.HPA, x.Replicas = "—", "2"
			r[invenio.WebUI] = x
		}, "x: web-ui has HPA — and replicas 2, want HPA 2–4 and no replica count"},
		{"replicas kept beside the HPA", func(r map[string]OperationsRow) { x := r[invenio.WebUI]; x.Replicas = "2"; r[invenio.WebUI] = x }, "x: web-ui has HPA 2–4 and replicas 2, want HPA 2–4 and no replica count"},
		{"HPA nobody asked for", func(r map[string]OperationsRow) { x := r[invenio.Worker]; x.HPA = "2–3"; r[invenio.Worker] = x }, "x: worker has HPA 2–3 and replicas 1, want no HPA and 1"},
		{"PDB missing", func(r map[string]OperationsRow) { x := r[invenio.Frontend]; x.PDB = "—"; r[invenio.Frontend] = x }, `x: frontend runs at least 2 pods but PDB is "—"`},
		{"PDB on a single pod", func(r map[string]OperationsRow) {
			x := r[invenio.WebAPI]
			x.PDB = "maxUnavailable 1"
			r[invenio.WebAPI] = x
		}, `x: web-api runs at least 1 pods but PDB is "maxUnavailable 1"`},
		{"not spread", func(r map[string]OperationsRow) { delete(r, invenio.Worker) }, "x: worker does not spread over nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := map[string]OperationsRow{}
			for k, v := range good {
				rows[k] = v
			}
			tc.edit(rows)
			if d := cmp.Diff([]string{tc.want}, scalingMismatches("x", ws, rows)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
