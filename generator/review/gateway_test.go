package review

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGatewayRules(t *testing.T) {
	gateway := func(class, listeners string) string {
		return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: invenio, namespace: ns, annotations: {cert-manager.io/cluster-issuer: le}}
spec:
  gatewayClassName: ` + class + `
  listeners: [` + listeners + `]
`
	}
	const https = `{name: https, protocol: HTTPS, port: 443, hostname: a.example, tls: {certificateRefs: [{name: tls}]}}`
	const http = `{name: http, protocol: HTTP, port: 80, hostname: a.example}`
	route := func(hosts, parent, rule string) string {
		return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: invenio, namespace: ns}
spec:
  hostnames: [` + hosts + `]
  parentRefs: [{name: invenio, sectionName: ` + parent + `}]
  rules: [` + rule + `]
`
	}
	const toFrontend = `{backendRefs: [{name: frontend, port: 8080}], timeouts: {request: 0s}}`
	osRoute := func(host, tls, timeout string) string {
		return `apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: invenio, namespace: ns, annotations: {haproxy.router.openshift.io/timeout: ` + timeout + `}}
spec:
  host: ` + host + `
  to: {kind: Service, name: frontend}
  port: {targetPort: http}
  tls: ` + tls + `
`
	}
	const edgeTLS = `{termination: edge, insecureEdgeTerminationPolicy: Redirect, externalCertificate: {name: invenio-tls}}`
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{name: "gateway added", new: gateway("eg", https+", "+http), want: []string{
			"ingress: listener http HTTP 80 for a.example opened",
			"ingress: listener https HTTPS 443 for a.example (certificate in Secret tls) opened",
		}},
		{name: "listener closed, class changed", old: gateway("eg", https+", "+http), new: gateway("cilium", https), want: []string{
			"ingress: listener http HTTP 80 for a.example closed",
			"ingress: gatewayClassName eg → cilium",
		}},
		{name: "certificate Secret changed", old: gateway("eg", https), new: gateway("eg", replaceOnce(https, "name: tls", "name: other")), want: []string{
			"ingress: listener https HTTPS 443 for a.example (certificate in Secret tls) closed",
			"ingress: listener https HTTPS 443 for a.example (certificate in Secret other) opened",
		}},
		{name: "gateway unchanged", old: gateway("eg", https), new: gateway("eg", https)},
		{name: "route added", new: route("a.example", "https", toFrontend), want: []string{
			"ingress: host a.example exposed",
			"ingress: route attached to Gateway invenio listener https",
		}},
		{name: "route host, listener, backend and timeout changed", old: route("a.example", "https", toFrontend),
			new: route("b.example", "http", `{backendRefs: [{name: web-ui, port: 5000}]}`), want: []string{
				"ingress: host a.example no longer exposed",
				"ingress: host b.example exposed",
				"ingress: route detached from Gateway invenio listener https",
				"ingress: route attached to Gateway invenio listener http",
				"ingress: traffic no longer sent to Service frontend port 8080",
				"ingress: traffic now sent to Service web-ui port 5000",
				"ingress: request timeout 0s removed",
			}},
		{name: "route removed", old: route("a.example", "https", toFrontend), want: []string{
			"ingress: host a.example no longer exposed",
			"ingress: route detached from Gateway invenio listener https",
		}},
		{name: "openshift route added", new: osRoute("a.example", edgeTLS, "180s"), want: []string{
			"ingress: host a.example exposed",
		}},
		{name: "openshift route host, TLS, backend and timeout changed", old: osRoute("a.example", edgeTLS, "180s"),
			new: replaceOnce(osRoute("b.example", `{termination: edge, insecureEdgeTerminationPolicy: Allow}`, "30s"), "name: frontend", "name: web-ui"), want: []string{
				"ingress: host a.example no longer exposed",
				"ingress: host b.example exposed",
				"ingress: TLS edge, HTTP Redirect, certificate in Secret invenio-tls → edge, HTTP Allow",
				"ingress: traffic sent to Service frontend port http → Service web-ui port http",
				"ingress: router timeout 180s → 30s",
			}},
		{name: "openshift route unchanged", old: osRoute("a.example", edgeTLS, "180s"), new: osRoute("a.example", edgeTLS, "180s")},
		{name: "openshift route removed", old: osRoute("a.example", edgeTLS, "180s"), want: []string{
			"ingress: host a.example no longer exposed",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, ruleFlags(t, c.old, c.new)); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExposureMigration: a host that moves between an Ingress, an
// HTTPRoute and an OpenShift Route reads as one migration, linked to its
// runbook, either way.
func TestExposureMigration(t *testing.T) {
	ing := `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: invenio, namespace: ns}, spec: {rules: [{host: a.example}]}}`
	rt := `{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, metadata: {name: invenio, namespace: ns}, spec: {hostnames: [a.example]}}`
	osr := `{apiVersion: route.openshift.io/v1, kind: Route, metadata: {name: invenio, namespace: ns}, spec: {host: a.example, to: {kind: Service, name: frontend}}}`
	objects := func(docs ...string) Objects {
		m := Objects{}
		for _, s := range docs {
			d := doc(t, s)
			m[idOf(d)] = Object{Doc: d}
		}
		return m
	}
	messages := func(fs []Flag) []string {
		var out []string
		for _, f := range fs {
			out = append(out, string(f.Category)+": "+f.Message+" ["+f.Runbook+"]")
		}
		return out
	}
	cases := []struct {
		name     string
		old, new Objects
		want     []string
	}{
		{"ingress to gateway", objects(ing), objects(rt), []string{"ingress: host a.example moves from Ingress ns/invenio to Gateway API (HTTPRoute ns/invenio): a migration of the edge; follow " + ExposureRunbook + " (both side by side, DNS switched, then the Ingress removed) [" + ExposureRunbook + "]"}},
		{"gateway to ingress", objects(rt), objects(ing), []string{"ingress: host a.example moves from Gateway API (HTTPRoute ns/invenio) back to Ingress ns/invenio: a migration of the edge; follow " + ExposureRunbook + " [" + ExposureRunbook + "]"}},
		{"the first route by name speaks for the host", objects(ing), objects(strings.Replace(rt, "name: invenio,", "name: invenio-redirect,", 1), rt),
			[]string{"ingress: host a.example moves from Ingress ns/invenio to Gateway API (HTTPRoute ns/invenio): a migration of the edge; follow " + ExposureRunbook + " (both side by side, DNS switched, then the Ingress removed) [" + ExposureRunbook + "]"}},
		{"gateway to openshift route", objects(rt), objects(osr), []string{"ingress: host a.example moves from HTTPRoute ns/invenio to OpenShift Route ns/invenio: the edge changes in one step, with no side-by-side exposure; follow " + RouteRunbook + " (DNS TTL lowered first, the new edge checked before DNS moves) [" + RouteRunbook + "]"}},
		{"openshift route to ingress", objects(osr), objects(ing), []string{"ingress: host a.example moves from OpenShift Route ns/invenio to Ingress ns/invenio: the edge changes in one step, with no side-by-side exposure; follow " + RouteRunbook + " [" + RouteRunbook + "]"}},
		{"both side by side is no move", objects(ing), objects(ing, rt), nil},
		{"ingress removed from side by side is no move", objects(ing, rt), objects(rt), nil},
		{"unchanged", objects(ing), objects(ing), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, messages(exposureFlags(c.old, c.new))); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelmReleaseRules(t *testing.T) {
	hr := func(ns, annotations string) string {
		return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: gateway-crds-helm, namespace: flux-system` + annotations + `}
spec:
  releaseName: gateway-crds
  targetNamespace: ` + ns + `
  chart: {spec: {chart: gateway-crds-helm, version: v1.9.1}}
`
	}
	const keep = `, annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}`
	cases := []struct {
		name, old, new string
		want           []string
	}{
		{"installed", "", hr("envoy-gateway-system", ""), []string{"flux: new HelmRelease: helm-controller installs gateway-crds (chart gateway-crds-helm) in namespace envoy-gateway-system"}},
		{"uninstalled", hr("envoy-gateway-system", ""), "", []string{"flux: HelmRelease removed: helm-controller uninstalls gateway-crds (chart gateway-crds-helm) in namespace envoy-gateway-system, and everything the chart made with it"}},
		{"kept", hr("envoy-gateway-system", keep), "", []string{"flux: removed from git, but Flux leaves it on the cluster (kustomize.toolkit.fluxcd.io/prune: disabled): delete it by hand once nothing uses it"}},
		{"moved", hr("envoy-gateway-system", ""), hr("edge", ""), []string{"flux: targetNamespace envoy-gateway-system → edge: helm-controller uninstalls the release gateway-crds (chart gateway-crds-helm) in namespace envoy-gateway-system and installs it anew, and everything the chart made with it"}},
		{"unchanged", hr("edge", ""), hr("edge", ""), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, ruleFlags(t, c.old, c.new)); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}
