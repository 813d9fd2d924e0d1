package generator

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/check"
	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
)

// The switches: every field that adds or removes objects, and that the
// layering (Go defaults → defaults: → environment) lets an environment
// set differently from defaults:. base/ is rendered from defaults:, so an
// environment that switches something off which defaults: switch on needs
// its overlay to remove objects from base, and one that switches on what
// defaults: leave off needs its overlay (or a Component) to add them.
// TestSwitches proves both directions for each.

// acmeSolverPolicy selects the pods cert-manager starts for a challenge,
// never in a build.
const acmeSolverPolicy = "allow-" + network.ACMESolver

// fragment is part of a description, as YAML would decode it.
type fragment = map[string]any

// s3Target is a complete backup target for the fixtures.
var s3Target = fragment{"s3": fragment{"endpoint": "https://s3.example.org", "bucket": "backups", "prefix": "switches",
	"egressCIDRs": []any{"192.0.2.0/24"}}}

// samlSettings are complete SAML settings for the fixtures.
var samlSettings = fragment{"idp": "idp", "title": "Single sign-on", "metadataURL": "https://idp.example.org/metadata",
	"egressCIDRs": []any{"192.0.2.0/24"}}

// switchCases are the switches. on and off are what the switch's side of
// the description says (merged into defaults: or into the environment);
// with is merged into defaults: in both directions (what the switch needs
// around it); onlyOn are objects the switched-on environment has and the
// switched-off one has not (proof that the case switches something).
var switchCases = []struct {
	name    string
	with    fragment
	on, off fragment
	onlyOn  []string
}{
	{name: "monitoring",
		on: fragment{"monitoring": fragment{"enabled": true}}, off: fragment{"monitoring": fragment{"enabled": false}},
		onlyOn: []string{"Deployment/postgresql-exporter", "Service/redis-exporter", "ServiceAccount/redis-exporter",
			"NetworkPolicy/postgresql-exporter", "ServiceMonitor/redis-exporter", "ServiceMonitor/frontend"}},
	{name: "monitoring, with every optional part on",
		with: fragment{"workloads": fragment{"dashboards": fragment{"enabled": true}, "pgadmin": fragment{"enabled": true},
			"webUI": fragment{"autoscaling": fragment{"enabled": true}}},
			"auth":    fragment{"mode": "saml", "saml": samlSettings},
			"backup":  fragment{"enabled": true, "target": s3Target},
			"reports": fragment{"largestFiles": fragment{"enabled": true}}},
		on: fragment{"monitoring": fragment{"enabled": true}}, off: fragment{"monitoring": fragment{"enabled": false}},
		onlyOn: []string{"Deployment/redis-exporter", "ServiceMonitor/postgresql-exporter"}},
	{name: "webUI autoscaling",
		on:     fragment{"workloads": fragment{"webUI": fragment{"autoscaling": fragment{"enabled": true}}}},
		off:    fragment{"workloads": fragment{"webUI": fragment{"autoscaling": fragment{"enabled": false}}}},
		onlyOn: []string{"HorizontalPodAutoscaler/web-ui", "PodDisruptionBudget/web-ui"}},
	{name: "webAPI autoscaling",
		on:     fragment{"workloads": fragment{"webAPI": fragment{"autoscaling": fragment{"enabled": true, "minReplicas": 3, "maxReplicas": 6}}}},
		off:    fragment{"workloads": fragment{"webAPI": fragment{"autoscaling": fragment{"enabled": false}}}},
		onlyOn: []string{"HorizontalPodAutoscaler/web-api", "PodDisruptionBudget/web-api"}},
	{name: "frontend autoscaling",
		on:     fragment{"workloads": fragment{"frontend": fragment{"autoscaling": fragment{"enabled": true}}}},
		off:    fragment{"workloads": fragment{"frontend": fragment{"autoscaling": fragment{"enabled": false}}}},
		onlyOn: []string{"HorizontalPodAutoscaler/frontend", "PodDisruptionBudget/frontend"}},
	{name: "worker autoscaling",
		on:     fragment{"workloads": fragment{"worker": fragment{"autoscaling": fragment{"enabled": true}}}},
		off:    fragment{"workloads": fragment{"worker": fragment{"autoscaling": fragment{"enabled": false}}}},
		onlyOn: []string{"HorizontalPodAutoscaler/worker", "PodDisruptionBudget/worker"}},
	{name: "worker autoscaling, with monitoring",
		with:   fragment{"monitoring": fragment{"enabled": true}},
		on:     fragment{"workloads": fragment{"worker": fragment{"autoscaling": fragment{"enabled": true}}}},
		off:    fragment{"workloads": fragment{"worker": fragment{"autoscaling": fragment{"enabled": false}}}},
		onlyOn: []string{"HorizontalPodAutoscaler/worker", "PodDisruptionBudget/worker"}},
	{name: "frontend replicas (disruption budget)",
		on:     fragment{"workloads": fragment{"frontend": fragment{"replicas": 2}}},
		off:    fragment{"workloads": fragment{"frontend": fragment{"replicas": 1}}},
		onlyOn: []string{"PodDisruptionBudget/frontend"}},
	{name: "dashboards",
		on:     fragment{"workloads": fragment{"dashboards": fragment{"enabled": true}}},
		off:    fragment{"workloads": fragment{"dashboards": fragment{"enabled": false}}},
		onlyOn: []string{"Deployment/dashboards", "Service/dashboards", "NetworkPolicy/dashboards"}},
	{name: "dashboards, with monitoring",
		with:   fragment{"monitoring": fragment{"enabled": true}},
		on:     fragment{"workloads": fragment{"dashboards": fragment{"enabled": true}}},
		off:    fragment{"workloads": fragment{"dashboards": fragment{"enabled": false}}},
		onlyOn: []string{"Deployment/dashboards"}},
	{name: "pgadmin",
		on:     fragment{"workloads": fragment{"pgadmin": fragment{"enabled": true}}},
		off:    fragment{"workloads": fragment{"pgadmin": fragment{"enabled": false}}},
		onlyOn: []string{"Deployment/pgadmin", "PersistentVolumeClaim/pgadmin-data", "NetworkPolicy/pgadmin"}},
	{name: "saml",
		on:     fragment{"auth": fragment{"mode": "saml", "saml": samlSettings}},
		off:    fragment{"auth": fragment{"mode": "password"}},
		onlyOn: []string{"ConfigMap/invenio-saml"}},
	{name: "backup",
		on:     fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		off:    fragment{"backup": fragment{"enabled": false}},
		onlyOn: []string{"CronJob/backup-postgresql", "CronJob/backup-files", "CronJob/backup-opensearch", "CronJob/restore-check"}},
	{name: "backup, with monitoring",
		with:   fragment{"monitoring": fragment{"enabled": true}},
		on:     fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		off:    fragment{"backup": fragment{"enabled": false}},
		onlyOn: []string{"CronJob/backup-postgresql"}},
	{name: "backup of the database",
		with:   fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		on:     fragment{"backup": fragment{"database": true}},
		off:    fragment{"backup": fragment{"database": false}},
		onlyOn: []string{"CronJob/backup-postgresql"}},
	{name: "backup of the files",
		with:   fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		on:     fragment{"backup": fragment{"files": true}},
		off:    fragment{"backup": fragment{"files": false}},
		onlyOn: []string{"CronJob/backup-files"}},
	{name: "backup of OpenSearch",
		with:   fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		on:     fragment{"backup": fragment{"opensearch": true}},
		off:    fragment{"backup": fragment{"opensearch": false}},
		onlyOn: []string{"CronJob/backup-opensearch"}},
	{name: "restore check",
		with:   fragment{"backup": fragment{"enabled": true, "target": s3Target}},
		on:     fragment{"backup": fragment{"restoreCheck": fragment{"enabled": true}}},
		off:    fragment{"backup": fragment{"restoreCheck": fragment{"enabled": false}}},
		onlyOn: []string{"CronJob/restore-check"}},
	{name: "backup to a volume",
		on:     fragment{"backup": fragment{"enabled": true, "target": fragment{"volume": fragment{"storageClass": "nfs-backup", "size": "200Gi"}}}},
		off:    fragment{"backup": fragment{"enabled": false}},
		onlyOn: []string{"PersistentVolumeClaim/backup-target", "CronJob/backup-files"}},
	{name: "largest-files report",
		on:     fragment{"reports": fragment{"largestFiles": fragment{"enabled": true}}},
		off:    fragment{"reports": fragment{"largestFiles": fragment{"enabled": false}}},
		onlyOn: []string{"CronJob/report-largest-files"}},
	{name: "largest-files report, with monitoring",
		with:   fragment{"monitoring": fragment{"enabled": true}},
		on:     fragment{"reports": fragment{"largestFiles": fragment{"enabled": true}}},
		off:    fragment{"reports": fragment{"largestFiles": fragment{"enabled": false}}},
		onlyOn: []string{"CronJob/report-largest-files"}},
}

// switchDescription is the fixture testdata/switches/platform.yaml with
// with and defaults merged into defaults: and other into environment
// "other".
func switchDescription(t *testing.T, with, defaults, other fragment) *config.Platform {
	t.Helper()
	p, err := switchParse(t, with, defaults, other)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// switchParse is switchDescription returning the loader's error.
func switchParse(t *testing.T, with, defaults, other fragment) (*config.Platform, error) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "switches", "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d fragment
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	merge(d["defaults"].(fragment), with)
	merge(d["defaults"].(fragment), defaults)
	for _, e := range d["environments"].([]any) {
		if e := e.(fragment); e["name"] == "other" {
			merge(e, other)
		}
	}
	out, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return config.Parse("switches.yaml", out)
}

// merge merges src into dst, mapping by mapping (a deep copy of src's
// values: the cases share their fragments).
func merge(dst, src fragment) {
	for k, v := range src {
		if sv, ok := v.(fragment); ok {
			dv, ok := dst[k].(fragment)
			if !ok {
				dv = fragment{}
				dst[k] = dv
			}
			merge(dv, sv)
			continue
		}
		dst[k] = v
	}
}

// TestSwitches: for every switch, defaults: on with one environment off,
// and defaults: off with one environment on, generate without error; the
// kustomize build of each environment equals its rendering (nothing of the
// switched-off part is left, nothing is missing); the build's references
// resolve (the manifest checks); and the switch does switch something.
func TestSwitches(t *testing.T) {
	for _, c := range switchCases {
		for _, dir := range []struct {
			name                string
			defaults, other     fragment
			otherOn, defaultsOn bool
		}{
			{"defaults on, other off", c.on, c.off, false, true},
			{"defaults off, other on", c.off, c.on, true, false},
		} {
			t.Run(c.name+"/"+dir.name, func(t *testing.T) {
				p := switchDescription(t, c.with, dir.defaults, dir.other)
				tr, err := Generate(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				builds := map[string]map[string]map[string]any{}
				for _, e := range p.Environments {
					env := string(e.Name)
					// Layer by layer, as Flux applies them: the fixture has
					// no secrets/<env> for overlays/<env> to include.
					var built []byte
					for _, layer := range component.Layers {
						b, err := BuildYAML(tr, path.Join("overlays", env, string(layer)))
						if err != nil {
							t.Fatalf("overlays/%s/%s: %v", env, layer, err)
						}
						built = append(built, "---\n"...)
						built = append(built, b...)
					}
					got := map[string]map[string]any{}
					for _, d := range decodeStream(t, built) {
						got[key(d)] = d
					}
					if diff := cmp.Diff(renderedDocs(t, p.Site, e, nil), got); diff != "" {
						t.Errorf("kustomize build of overlays/%s differs from the rendered environment (-want +got):\n%s", env, diff)
					}
					for _, f := range switchFindings(t, built, got, e) {
						t.Errorf("overlays/%s: %s", env, f)
					}
					builds[env] = got
				}
				on, off := builds["other"], builds["same"]
				if dir.defaultsOn {
					on, off = off, on
				}
				for _, k := range c.onlyOn {
					if on[k] == nil || off[k] != nil {
						t.Errorf("%s: in the switched-on environment %v, in the switched-off one %v; want only in the switched-on one", k, on[k] != nil, off[k] != nil)
					}
				}
			})
		}
	}
}

// TestSwitchedOffEverywhereLeavesNoComponent: with a switch off in every
// environment, no base/components/<name> is written that no overlay uses,
// and each one written is used.
func TestSwitchedOffEverywhereLeavesNoComponent(t *testing.T) {
	for _, c := range switchCases {
		t.Run(c.name, func(t *testing.T) {
			p := switchDescription(t, c.with, c.off, c.off)
			tr, err := Generate(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			used := map[string]bool{}
			for _, e := range p.Environments {
				for n, on := range invenio.Enabled(e) {
					used[n] = used[n] || on
				}
			}
			var overlays strings.Builder
			for _, f := range tr.Under("overlays").Paths() {
				overlays.Write(tr[path.Join("overlays", f)])
			}
			for _, f := range tr.Under("base/components").Paths() {
				name, _, _ := strings.Cut(f, "/")
				if !used[name] || !strings.Contains(overlays.String(), "base/components/"+name+"\n") {
					t.Errorf("base/components/%s written, but no environment switches %s on (used: %v)", f, name, used)
				}
			}
		})
	}
}

// switchFindings are the problems of one environment's build that a
// switch could leave behind: every manifest check (references that do not
// resolve, a policy or budget over pods that are gone, replicas beside an
// autoscaler, …).
func switchFindings(t *testing.T, built []byte, docs map[string]map[string]any, e config.Environment) []string {
	t.Helper()
	b, errs := check.Load(string(e.Name), built)
	b.ListedSecrets = map[string]bool{}
	for _, s := range e.Secrets.Names() {
		b.ListedSecrets[s] = true
	}
	var out []string
	for _, err := range errs {
		out = append(out, err.Error())
	}
	for _, f := range check.Run(b).Findings {
		out = append(out, fmt.Sprintf("%s: %s: %s", f.Check, f.Object, f.Detail))
	}
	sort.Strings(out)
	return out
}

// TestSwitchRefused: the one switch the layering cannot express — the
// kind of backup target, since a target inherited from defaults: cannot
// be unset — is refused at the environment's line, with the fix, rather
// than generated wrong.
func TestSwitchRefused(t *testing.T) {
	volume := fragment{"volume": fragment{"storageClass": "nfs-backup", "size": "200Gi"}}
	for _, c := range []struct {
		name            string
		defaults, other fragment
	}{
		{"volume in defaults, s3 in the environment",
			fragment{"backup": fragment{"enabled": true, "target": volume}}, fragment{"backup": fragment{"target": s3Target}}},
		{"s3 in defaults, volume in the environment",
			fragment{"backup": fragment{"enabled": true, "target": s3Target}}, fragment{"backup": fragment{"target": volume}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := switchParse(t, nil, c.defaults, c.other)
			want := regexp.MustCompile(`^switches\.yaml:\d+: environments\[1\]\.backup\.target: sets both s3 \(line \d+\) and volume \(line \d+\): .*set targets in the environments`)
			if err == nil || !want.MatchString(err.Error()) {
				t.Errorf("got error %v, want one matching %s", err, want)
			}
		})
	}
}
