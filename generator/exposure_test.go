package generator

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/crds"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
)

// exposureObjects are the objects each exposure adds to an environment.
var exposureObjects = map[config.Exposure][]string{
	config.ExposureIngress: {"Ingress/invenio"},
	config.ExposureGateway: {"ClientTrafficPolicy/invenio", "Gateway/invenio", "HTTPRoute/invenio", "HTTPRoute/invenio-redirect"},
	config.ExposureRoute:   {"Certificate/invenio-tls", "Role/router-reads-invenio-tls", "RoleBinding/router-reads-invenio-tls", "Route/invenio"},
}

// exposures are the values of ingress.exposure.
var exposures = []config.Exposure{config.ExposureIngress, config.ExposureGateway, config.ExposureBoth, config.ExposureRoute}

// has reports whether exposure x has the objects of y.
func has(x, y config.Exposure) bool {
	return (y == config.ExposureIngress && x.Ingress()) || (y == config.ExposureGateway && x.Gateway()) || (y == config.ExposureRoute && x.Route())
}

// TestExposures: every exposure in every environment of the fixture
// builds; the build has the objects of its exposure and none of the
// other's; switching the exposure changes nothing else but the edge peers
// of the policies that let it in; the NetworkPolicies let in exactly the
// flows of the table, the edge's included (netpol-analyzer), and the
// routes lead where the table says; every Gateway API and Envoy Gateway
// object, OpenShift Route and cert-manager Certificate validates against
// the pinned CRDs; every manifest check passes; the infrastructure installs
// the controller of the exposures in use and not the other.
func TestExposures(t *testing.T) {
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	builds := map[config.Exposure]map[string]map[string]map[string]any{} // exposure → env → object → doc
	for _, x := range exposures {
		p, sealed := loadRepo(t)
		for i := range p.Environments {
			p.Environments[i].Ingress.Exposure = x
		}
		tr, err := Generate(p, sealed)
		if err != nil {
			t.Fatalf("%s: %v", x, err)
		}
		tr = tr.With(sealed)
		builds[x] = map[string]map[string]map[string]any{}
		for _, e := range p.Environments {
			built, err := BuildYAML(tr, "overlays/"+string(e.Name))
			if err != nil {
				t.Fatalf("%s, %s: %v", x, e.Name, err)
			}
			objs := map[string]map[string]any{}
			for _, d := range decodeStream(t, built) {
				objs[key(d)] = d
				if api, _ := d["apiVersion"].(string); strings.HasPrefix(api, "gateway.") || strings.HasPrefix(api, "route.openshift.io/") || strings.HasPrefix(api, "cert-manager.io/") {
					for _, err := range set.Validate(d) {
						t.Errorf("%s, %s: %s: %v", x, e.Name, key(d), err)
					}
				}
			}
			builds[x][string(e.Name)] = objs
			// Every manifest check decodes and passes it (platformctl check).
			for _, f := range switchFindings(t, built, objs, e) {
				t.Errorf("exposure %s, %s: %s", x, e.Name, f)
			}
			for y, want := range exposureObjects {
				for _, k := range want {
					if _, ok := objs[k]; ok != has(x, y) {
						t.Errorf("exposure %s, %s: has %s = %v", x, e.Name, k, ok)
					}
				}
			}
			cs, err := Components(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			in := npLoad(t, e, built)
			analysed, warnings := npAnalyse(t, in)
			for _, problem := range npWarningProblems(in, npBackends(t, in, e, cs), warnings) {
				t.Errorf("exposure %s, %s: %s", x, e.Name, problem)
			}
			if d := cmp.Diff(npRows(npIntended(t, e, cs)), npRows(analysed)); d != "" {
				t.Errorf("exposure %s, %s: the NetworkPolicies allow other flows than the table (-intended +allowed):\n%s", x, e.Name, d)
			}
			if d := cmp.Diff(npRows(npIntendedRoutes(t, e, cs)), npRows(npRoutes(t, in))); d != "" {
				t.Errorf("exposure %s, %s: the routes lead elsewhere than the table (-intended +routed):\n%s", x, e.Name, d)
			}
		}
		exists := func(path string) bool { _, ok := tr[path]; return ok }
		controllers := "base/infrastructure/controllers/"
		if got := exists(controllers + "ingress-nginx.yaml"); got != x.Ingress() {
			t.Errorf("exposure %s everywhere: ingress-nginx installed = %v", x, got)
		}
		if got := exists(controllers + "envoy-gateway.yaml"); got != x.Gateway() {
			t.Errorf("exposure %s everywhere: Envoy Gateway installed = %v", x, got)
		}
		for _, d := range infrastructureDocs(t, p, tr) {
			for _, err := range set.Validate(d.Doc) {
				t.Errorf("exposure %s, cluster %s: %s: %v", x, d.Cluster, key(d.Doc), err)
			}
		}
	}
	// Switching changes the exposure's objects and the edge peers only.
	edge := []string{"NetworkPolicy/" + "frontend", "NetworkPolicy/allow-" + network.ACMESolver}
	for _, sw := range [][2]config.Exposure{
		{config.ExposureIngress, config.ExposureGateway},
		{config.ExposureIngress, config.ExposureBoth},
		{config.ExposureBoth, config.ExposureGateway},
		{config.ExposureGateway, config.ExposureRoute},
		{config.ExposureIngress, config.ExposureRoute},
	} {
		for env, from := range builds[sw[0]] {
			to := builds[sw[1]][env]
			var changed []string
			for k, d := range from {
				if !cmp.Equal(d, to[k]) {
					changed = append(changed, k)
				}
			}
			for k := range to {
				if _, ok := from[k]; !ok {
					changed = append(changed, k)
				}
			}
			slices.Sort(changed)
			want := slices.Clone(edge)
			for y, objs := range exposureObjects {
				if has(sw[0], y) != has(sw[1], y) {
					want = append(want, objs...)
				}
			}
			slices.Sort(want)
			if d := cmp.Diff(want, changed); d != "" {
				t.Errorf("%s: %s → %s changes other objects than the exposure's and the edge's policies (-want +got):\n%s", env, sw[0], sw[1], d)
			}
		}
	}
}

// TestClusterControllers: each cluster runs the edge controllers its own
// environments need and no other (the shared directories hold every
// controller some cluster needs; the others delete theirs by patch):
// ingress-nginx for an Ingress, Envoy Gateway and its class for a Gateway
// of class eg, neither for an OpenShift cluster with Routes only.
func TestClusterControllers(t *testing.T) {
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ nginx, envoy, gatewayAPI, certManagerAfterCRDs bool }
	p, sealed := loadRepo(t)
	exposure := map[string]config.Exposure{"dev": config.ExposureIngress, "test": config.ExposureGateway, "prod": config.ExposureRoute}
	for i := range p.Environments {
		e := &p.Environments[i]
		e.Ingress.Exposure = exposure[string(e.Name)]
	}
	p.Clusters = []config.Cluster{{Name: "prod", Distribution: config.DistributionOpenShift}}
	wants := map[string]want{"dev": {nginx: true}, "test": {envoy: true, gatewayAPI: true, certManagerAfterCRDs: true}, "prod": {}}
	tr, err := Generate(p, sealed)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]want{}
	for _, d := range infrastructureDocs(t, p, tr.With(sealed)) {
		w := got[d.Cluster]
		u := unstructured.Unstructured{Object: d.Doc}
		switch {
		case u.GetKind() == "HelmRelease" && u.GetName() == "ingress-nginx":
			w.nginx = true
		case u.GetKind() == "HelmRelease" && u.GetName() == "gateway-helm":
			w.envoy = true
		case u.GetKind() == "HelmRelease" && u.GetName() == "cert-manager":
			on, _, _ := unstructured.NestedBool(d.Doc, "spec", "values", "config", "enableGatewayAPI")
			w.gatewayAPI = on
			after, _, _ := unstructured.NestedSlice(d.Doc, "spec", "dependsOn")
			w.certManagerAfterCRDs = len(after) > 0
		}
		got[d.Cluster] = w
		for _, err := range set.Validate(d.Doc) {
			t.Errorf("cluster %s: %s: %v", d.Cluster, key(d.Doc), err)
		}
	}
	if d := cmp.Diff(wants, got, cmp.AllowUnexported(want{})); d != "" {
		t.Errorf("controllers per cluster (-want +got):\n%s", d)
	}
}
