package generator

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"lbl.gov/invenio-gitops/generator/check"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
)

// TestCheckManifests runs every manifest check (package check, as
// `platformctl check` does) on the kustomize build of every environment
// of the fixture, which switches every optional part on somewhere, and of
// the fixture with test exposed by an OpenShift Route (the one exposure
// the fixture's clusters cannot have) and restoring from its backups
// (backup.restore, which no shipped environment keeps on). The builds must pass, and every
// deviation of check.Deviations must accept a finding in some
// environment: one that accepts nothing is stale.
func TestCheckManifests(t *testing.T) {
	p, tr := generate(t)
	openshift, sealed := loadRepo(t)
	openshift.Clusters = []config.Cluster{{Name: "test", Distribution: config.DistributionOpenShift}}
	for i := range openshift.Environments {
		if openshift.Environments[i].Name == "test" {
			openshift.Environments[i].Ingress.Exposure = config.ExposureRoute
			// and restores from its backups (the restore Job).
			on := true
			openshift.Environments[i].Backup.Restore.Enabled = &on
		}
	}
	otr, err := Generate(openshift, sealed)
	if err != nil {
		t.Fatal(err)
	}
	type build struct {
		name string
		p    *config.Platform
		tr   tree.Tree
		env  string
	}
	var builds []build
	for _, e := range p.Environments {
		builds = append(builds, build{string(e.Name), p, tr, string(e.Name)})
	}
	builds = append(builds, build{"test-route", openshift, otr.With(sealed), "test"})
	used := map[int]bool{}
	for _, b := range builds {
		p, tr, env := b.p, b.tr, b.env
		t.Run(b.name, func(t *testing.T) {
			r, err := CheckEnvironment(p, tr, env)
			if err != nil {
				t.Fatal(err)
			}
			for i := range r.UsedDeviations {
				used[i] = true
			}
			for _, a := range r.Accepted {
				t.Logf("%s [%s]: %s (accepted: %s)", a.Object, a.Check, a.Detail, a.Accepted)
			}
			for _, f := range r.Findings {
				t.Errorf("overlays/%s: %s [%s]: %s: %s", env, f.File, f.Check, f.Object, f.Detail)
				if f.File == "" && f.Check != DecodeCheck {
					t.Errorf("finding on %s names no file", f.Object)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	for i, d := range check.Deviations {
		if !used[i] {
			t.Errorf("deviation %q on %s (%q) accepted no finding in any environment: remove it from check.Deviations", d.Check, d.Object, d.Contains)
		}
	}
}

// TestCheckNamesTheFile: a finding names the generated file that defines
// its object, so an operator knows where to look.
func TestCheckNamesTheFile(t *testing.T) {
	p, tr := generate(t)
	r, err := CheckEnvironment(p, tr, "dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Accepted {
		if a.Object == "Deployment/pgadmin" && a.Check == "capabilities" {
			if a.File != "base/components/pgadmin/pgadmin.yaml" {
				t.Errorf("the pgAdmin Deployment's finding names file %q, want base/components/pgadmin/pgadmin.yaml", a.File)
			}
			return
		}
	}
	t.Fatal("no capabilities finding on Deployment/pgadmin in dev: the test needs one")
}

// TestCheckSecretInventory logs every Secret key each environment reads
// (what the sealed secrets must supply) and fails when an environment
// reads none, which would mean the inventory walk is broken.
func TestCheckSecretInventory(t *testing.T) {
	p, tr := generate(t)
	for _, e := range p.Environments {
		env := string(e.Name)
		t.Run(env, func(t *testing.T) {
			built, err := BuildYAML(tr, "overlays/"+env)
			if err != nil {
				t.Fatal(err)
			}
			b, errs := check.Load(env, built)
			if len(errs) > 0 {
				t.Fatalf("strict decoding failed: %v", errs)
			}
			inv := check.SecretInventory(b)
			if len(inv) == 0 {
				t.Fatal("no Secret references found")
			}
			var lines []string
			for _, s := range slices.Sorted(maps.Keys(inv)) {
				for _, k := range slices.Sorted(maps.Keys(inv[s])) {
					readers := append([]string(nil), inv[s][k]...)
					sort.Strings(readers)
					lines = append(lines, fmt.Sprintf("  %s/%s ← %s", s, k, strings.Join(readers, ", ")))
				}
			}
			t.Logf("Secret keys read in %s (%s):\n%s", env, e.Namespace, strings.Join(lines, "\n"))
		})
	}
}
