package generator

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
		"spec": map[string]any{"selector": map[string]any{}, "endpoints": []any{map[string]any{"port": "metrics", "interval": "30 seconds"}}}}
	if len(set.Validate(bad)) == 0 {
		t.Error(`a ServiceMonitor with interval "30 seconds" validated`)
	}
}

// opsRow is one replicable workload of one environment, as built.
type opsRow struct {
	Workload, Replicas, HPA, Targets, ScaleDown, PDB string
}

// opsTable reads, from an environment's kustomize build, each Deployment
// that spreads over nodes with its HPA and PDB: what the cluster will get.
func opsTable(t testing.TB, built []byte) []opsRow {
	t.Helper()
	docs := decodeStream(t.(*testing.T), built)
	get := func(d map[string]any, path ...string) any {
		var v any = d
		for _, k := range path {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	hpas, pdbs := map[string]map[string]any{}, map[string]map[string]any{}
	for _, d := range docs {
		switch d["kind"] {
		case "HorizontalPodAutoscaler":
			hpas[get(d, "spec", "scaleTargetRef", "name").(string)] = d
		case "PodDisruptionBudget":
			pdbs[get(d, "spec", "selector", "matchLabels", "app.kubernetes.io/name").(string)] = d
		}
	}
	var rows []opsRow
	for _, d := range docs {
		if d["kind"] != "Deployment" || get(d, "spec", "template", "spec", "topologySpreadConstraints") == nil {
			continue
		}
		name := get(d, "metadata", "name").(string)
		r := opsRow{Workload: name, Replicas: "HPA", HPA: "—", Targets: "—", ScaleDown: "—", PDB: "—"}
		if n := get(d, "spec", "replicas"); n != nil {
			r.Replicas = fmt.Sprint(n)
		}
		if h, ok := hpas[name]; ok {
			r.HPA = fmt.Sprintf("%v–%v", get(h, "spec", "minReplicas"), get(h, "spec", "maxReplicas"))
			var ts []string
			for _, m := range get(h, "spec", "metrics").([]any) {
				mm := m.(map[string]any)
				ts = append(ts, fmt.Sprintf("%v %v%%", get(mm, "resource", "name"), get(mm, "resource", "target", "averageUtilization")))
			}
			r.Targets = strings.Join(ts, ", ")
			r.ScaleDown = fmt.Sprintf("%vs window, 1 pod/min", get(h, "spec", "behavior", "scaleDown", "stabilizationWindowSeconds"))
		}
		if p, ok := pdbs[name]; ok {
			r.PDB = fmt.Sprintf("maxUnavailable %v", get(p, "spec", "maxUnavailable"))
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Workload < rows[j].Workload })
	return rows
}

// operationsTable is docs/operations-scaling.md's table: per environment, each
// replicable workload's replicas, autoscaler and disruption budget, read
// back from the kustomize build.
func operationsTable(t *testing.T) string {
	p, tr := generate(t)
	var b strings.Builder
	b.WriteString("# Scaling and disruption budgets per environment\n\n")
	b.WriteString("Generated from the kustomize build of each environment by `go test ./generator -run TestOperationsTableIsFresh -update`; do not edit.\n")
	b.WriteString("Every workload listed spreads its pods over nodes (topology spread on `kubernetes.io/hostname`, `ScheduleAnyway`, and a preferred pod anti-affinity).\n")
	for _, e := range p.Environments {
		built, err := BuildYAML(tr, "overlays/"+string(e.Name))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "\n## %s\n\n| Workload | Replicas | HPA min–max | HPA targets | Scale-down | PodDisruptionBudget |\n|---|---|---|---|---|---|\n", e.Name)
		for _, r := range opsTable(t, built) {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.Workload, r.Replicas, r.HPA, r.Targets, r.ScaleDown, r.PDB)
		}
	}
	return b.String()
}

// TestOperationsTableIsFresh keeps docs/operations-scaling.md in step with
// what the environments build to.
func TestOperationsTableIsFresh(t *testing.T) {
	want := operationsTable(t)
	path := filepath.Join(repoRoot, "docs/operations-scaling.md")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("docs/operations-scaling.md is stale; run `go test ./generator -update` (-want +got):\n%s", diff)
	}
}

// TestScalingFollowsTheDescription: in each environment's build, every
// workload the description autoscales has an HPA on its Deployment and no
// replica count; every one that runs two pods or more has a PDB; the
// others have neither. Changing the description changes the build.
func TestScalingFollowsTheDescription(t *testing.T) {
	p, tr := generate(t)
	names := map[string]func(config.Workloads) config.Workload{
		invenio.WebUI:    func(w config.Workloads) config.Workload { return w.WebUI },
		invenio.WebAPI:   func(w config.Workloads) config.Workload { return w.WebAPI },
		invenio.Frontend: func(w config.Workloads) config.Workload { return w.Frontend },
		invenio.Worker:   func(w config.Workloads) config.Workload { return w.Worker },
	}
	hpas := 0
	for _, e := range p.Environments {
		built, err := BuildYAML(tr, "overlays/"+string(e.Name))
		if err != nil {
			t.Fatal(err)
		}
		rows := map[string]opsRow{}
		for _, r := range opsTable(t, built) {
			rows[r.Workload] = r
		}
		for name, wl := range names {
			w := wl(e.Workloads)
			r, ok := rows[name]
			if !ok {
				t.Errorf("%s: %s does not spread over nodes", e.Name, name)
				continue
			}
			if a := w.Autoscaling; a.Enabled {
				hpas++
				if want := fmt.Sprintf("%d–%d", a.MinReplicas, a.MaxReplicas); r.HPA != want || r.Replicas != "HPA" {
					t.Errorf("%s: %s has HPA %s and replicas %s, want HPA %s and no replica count", e.Name, name, r.HPA, r.Replicas, want)
				}
			} else if r.HPA != "—" || r.Replicas != fmt.Sprint(w.Replicas) {
				t.Errorf("%s: %s has HPA %s and replicas %s, want no HPA and %d", e.Name, name, r.HPA, r.Replicas, w.Replicas)
			}
			if wantPDB := w.Replicated() > 1; wantPDB != (r.PDB != "—") {
				t.Errorf("%s: %s runs at least %d pods but PDB is %q", e.Name, name, w.Replicated(), r.PDB)
			}
		}
	}
	if hpas == 0 {
		t.Fatal("no environment autoscales anything: the test would pass vacuously")
	}
}
