//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/crds"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
)

// gatewayEnv is what Envoy Gateway is given of one environment whose
// ingress.exposure is gateway (or both): the environment's Namespace,
// Gateway, HTTPRoutes, ClientTrafficPolicy and the Services the routes name,
// as `platformctl build <env>` prints them from the repository, and the
// infrastructure layer's GatewayClass the Gateway names.
type gatewayEnv struct {
	env       config.Environment
	namespace string
	class     *unstructured.Unstructured
	gateway   *unstructured.Unstructured
	routes    []*unstructured.Unstructured
	policies  []*unstructured.Unstructured // ClientTrafficPolicy
	services  []*unstructured.Unstructured
	nsObj     *unstructured.Unstructured
}

// gatewayBuild builds the first environment of the repository's
// platform.yaml that is exposed through a Gateway (test).
func gatewayBuild(t *testing.T) *gatewayEnv {
	t.Helper()
	p, err := config.Load(filepath.Join(root, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := &gatewayEnv{}
	for _, e := range p.Environments {
		if e.Ingress.Exposure.Gateway() {
			g.env = e
			break
		}
	}
	if g.env.Name == "" {
		t.Fatal("no environment of platform.yaml has ingress.exposure gateway or both")
	}
	g.namespace = string(g.env.Namespace)
	out, err := exec.Command(platformctl, "build", string(g.env.Name), "-C", root).Output()
	if err != nil {
		t.Fatalf("platformctl build %s: %v", g.env.Name, err)
	}
	objs, err := cluster.Decode(out)
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Namespace":
			g.nsObj = o
		case "Gateway":
			if g.gateway != nil {
				t.Fatalf("%s builds two Gateways", g.env.Name)
			}
			g.gateway = o
		case "HTTPRoute":
			g.routes = append(g.routes, o)
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
			for _, r := range rules {
				refs, _, _ := unstructured.NestedSlice(r.(map[string]any), "backendRefs")
				for _, ref := range refs {
					backends[ref.(map[string]any)["name"].(string)] = true
				}
			}
		case "ClientTrafficPolicy":
			g.policies = append(g.policies, o)
		}
	}
	for _, o := range objs {
		if o.GetKind() == "Service" && backends[o.GetName()] {
			g.services = append(g.services, o)
		}
	}
	if g.nsObj == nil || g.gateway == nil || len(g.routes) == 0 || len(g.policies) == 0 || len(g.services) != len(backends) {
		t.Fatalf("%s: want a Namespace, a Gateway, HTTPRoutes, a ClientTrafficPolicy and the Services %v; got %d routes, %d policies, %d Services",
			g.env.Name, backends, len(g.routes), len(g.policies), len(g.services))
	}
	className, _, _ := unstructured.NestedString(g.gateway.Object, "spec", "gatewayClassName")
	// The infrastructure layer (make generate writes it from platform.yaml).
	b, err := os.ReadFile(filepath.Join(root, "base", "infrastructure", "configs", "gateway-class.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	classes, err := cluster.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range classes {
		if o.GetKind() == "GatewayClass" && o.GetName() == className {
			g.class = o
		}
	}
	if g.class == nil {
		t.Fatalf("base/infrastructure/configs/gateway-class.yaml has no GatewayClass %q (the Gateway's class)", className)
	}
	return g
}

// tlsSecret is a self-signed kubernetes.io/tls Secret for the Gateway's
// HTTPS listener (cert-manager issues it in the cluster), named as its
// certificateRefs say.
func (g *gatewayEnv) tlsSecret(t *testing.T) *corev1.Secret {
	t.Helper()
	var name, host string
	listeners, _, _ := unstructured.NestedSlice(g.gateway.Object, "spec", "listeners")
	for _, l := range listeners {
		lm := l.(map[string]any)
		refs, _, _ := unstructured.NestedSlice(lm, "tls", "certificateRefs")
		if len(refs) == 1 {
			name = refs[0].(map[string]any)["name"].(string)
			host, _ = lm["hostname"].(string)
		}
	}
	if name == "" {
		t.Fatal("the Gateway has no listener with one certificateRef")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: g.namespace},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}),
		},
	}
}

// missingBackendRoute is an HTTPRoute like the environment's first one on
// the HTTPS listener, under its own path, whose backend Service does not
// exist: the controller must say ResolvedRefs False, which shows the check
// of the environment's routes can fail.
func (g *gatewayEnv) missingBackendRoute() *unstructured.Unstructured {
	r := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "e2e-missing-backend", "namespace": g.namespace},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": g.gateway.GetName(), "sectionName": "https"}},
			"hostnames":  []any{string(g.env.Host)},
			"rules": []any{map[string]any{
				"matches":     []any{map[string]any{"path": map[string]any{"type": "PathPrefix", "value": "/e2e-missing-backend"}}},
				"backendRefs": []any{map[string]any{"name": "e2e-no-such-service", "port": int64(8080)}},
			}},
		},
	}}
	return r
}

var (
	gatewayGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	classGVR   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	routeGVR   = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	ctpGVR     = schema.GroupVersionResource{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Resource: "clienttrafficpolicies"}
)

// conditions renders status conditions as "Type=Status (Reason)".
func conditions(list []any) []string {
	var out []string
	for _, c := range list {
		m := c.(map[string]any)
		out = append(out, fmt.Sprintf("%v=%v (%v)", m["type"], m["status"], m["reason"]))
	}
	return out
}

// conditionStatus is the status of the condition typ in list ("" if none).
func conditionStatus(list []any, typ string) string {
	for _, c := range list {
		if m := c.(map[string]any); m["type"] == typ {
			s, _ := m["status"].(string)
			return s
		}
	}
	return ""
}

// controllerEntries are the status entries (route parents, policy
// ancestors) written by Envoy Gateway.
func controllerEntries(o *unstructured.Unstructured, field string) []map[string]any {
	list, _, _ := unstructured.NestedSlice(o.Object, "status", field)
	var out []map[string]any
	for _, e := range list {
		if m := e.(map[string]any); m["controllerName"] == cluster.EnvoyGatewayControllerName {
			out = append(out, m)
		}
	}
	return out
}

// TestGatewayControllerConditions runs Envoy Gateway's real controller
// (v1.9.1, built from the Go module proxy) against a real API server holding
// the repository's Gateway environment (test): the infrastructure layer's
// GatewayClass, the environment's Gateway, HTTPRoutes, ClientTrafficPolicy
// and frontend Service, and a TLS Secret as cert-manager would issue it.
// The controller must accept the class, the Gateway (each listener's
// references resolved: the certificate Secret), each route (its backend
// Service resolved) and the policy; a route to a missing Service must get
// ResolvedRefs False. Whether the Gateway is Programmed needs an address for
// its LoadBalancer Service, which no cloud controller gives here: the test
// reports it, then gives one as MetalLB would (a stand-in) and waits for
// Programmed True.
func TestGatewayControllerConditions(t *testing.T) {
	g := gatewayBuild(t)
	cl, ctx := startCluster(t, "gateway")
	phase(t, "install Envoy Gateway's other CRDs (EnvoyProxy, BackendTrafficPolicy, …)", func() {
		installEnvoyGatewayCRDs(t, ctx, cl)
	})
	bad := g.missingBackendRoute()
	phase(t, "apply the GatewayClass, the environment's Gateway objects and Service, the TLS Secret", func() {
		objs := []*unstructured.Unstructured{g.nsObj, g.class}
		objs = append(objs, g.services...)
		objs = append(objs, g.gateway)
		objs = append(objs, g.routes...)
		objs = append(objs, g.policies...)
		objs = append(objs, bad)
		if err := cl.ApplyAll(ctx, objs); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Client.CoreV1().Secrets(g.namespace).Create(ctx, g.tlsSecret(t), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	var eg *cluster.EnvoyGateway
	phase(t, "start Envoy Gateway (certgen, then the controller)", func() {
		var err error
		if eg, err = cl.StartEnvoyGateway(ctx, "envoy-gateway-system"); err != nil {
			t.Fatalf("Envoy Gateway: %v", err)
		}
	})
	get := func(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
		if ns == "" {
			return cl.Dynamic.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		}
		return cl.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	}
	// statusLines renders every condition the controller wrote, for the log
	// and for a failure.
	statusLines := func(ctx context.Context) []string {
		var lines []string
		if o, err := get(ctx, classGVR, "", g.class.GetName()); err == nil {
			c, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			lines = append(lines, fmt.Sprintf("GatewayClass %s: %s", o.GetName(), strings.Join(conditions(c), ", ")))
		}
		if o, err := get(ctx, gatewayGVR, g.namespace, g.gateway.GetName()); err == nil {
			c, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			lines = append(lines, fmt.Sprintf("Gateway %s: %s", o.GetName(), strings.Join(conditions(c), ", ")))
			ls, _, _ := unstructured.NestedSlice(o.Object, "status", "listeners")
			for _, l := range ls {
				lm := l.(map[string]any)
				c, _ := lm["conditions"].([]any)
				lines = append(lines, fmt.Sprintf("  listener %v (attachedRoutes %v): %s", lm["name"], lm["attachedRoutes"], strings.Join(conditions(c), ", ")))
			}
		}
		for _, r := range append(slices.Clone(g.routes), bad) {
			if o, err := get(ctx, routeGVR, g.namespace, r.GetName()); err == nil {
				for _, p := range controllerEntries(o, "parents") {
					c, _ := p["conditions"].([]any)
					ref, _ := p["parentRef"].(map[string]any)
					lines = append(lines, fmt.Sprintf("HTTPRoute %s (parent %v/%v): %s", o.GetName(), ref["name"], ref["sectionName"], strings.Join(conditions(c), ", ")))
				}
			}
		}
		for _, pol := range g.policies {
			if o, err := get(ctx, ctpGVR, g.namespace, pol.GetName()); err == nil {
				for _, a := range controllerEntries(o, "ancestors") {
					c, _ := a["conditions"].([]any)
					lines = append(lines, fmt.Sprintf("ClientTrafficPolicy %s: %s", o.GetName(), strings.Join(conditions(c), ", ")))
				}
			}
		}
		return lines
	}
	fail := func(err error) {
		t.Helper()
		t.Fatalf("%v\nconditions now:\n  %s\nlast lines of %s:\n%s", err, strings.Join(statusLines(ctx), "\n  "), eg.Log, eg.LogTail(40))
	}
	want := func(what, got, want string) error {
		if got != want {
			return fmt.Errorf("%s is %q, want %q", what, got, want)
		}
		return nil
	}
	phase(t, "controller: class, Gateway, listeners, routes and policy Accepted / ResolvedRefs", func() {
		err := cluster.WaitFor(ctx, 2*time.Minute, "Envoy Gateway's conditions", func(ctx context.Context) error {
			if err := eg.Exited(); err != nil {
				return err
			}
			o, err := get(ctx, classGVR, "", g.class.GetName())
			if err != nil {
				return err
			}
			c, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
			if err := want("GatewayClass Accepted", conditionStatus(c, "Accepted"), "True"); err != nil {
				return err
			}
			if o, err = get(ctx, gatewayGVR, g.namespace, g.gateway.GetName()); err != nil {
				return err
			}
			c, _, _ = unstructured.NestedSlice(o.Object, "status", "conditions")
			if err := want("Gateway Accepted", conditionStatus(c, "Accepted"), "True"); err != nil {
				return err
			}
			specLs, _, _ := unstructured.NestedSlice(g.gateway.Object, "spec", "listeners")
			ls, _, _ := unstructured.NestedSlice(o.Object, "status", "listeners")
			for _, sl := range specLs {
				name := sl.(map[string]any)["name"]
				found := false
				for _, l := range ls {
					if lm := l.(map[string]any); lm["name"] == name {
						found = true
						lc, _ := lm["conditions"].([]any)
						for _, typ := range []string{"Accepted", "ResolvedRefs"} {
							if err := want(fmt.Sprintf("listener %v %s", name, typ), conditionStatus(lc, typ), "True"); err != nil {
								return err
							}
						}
					}
				}
				if !found {
					return fmt.Errorf("no status of listener %v yet", name)
				}
			}
			for _, r := range g.routes {
				o, err := get(ctx, routeGVR, g.namespace, r.GetName())
				if err != nil {
					return err
				}
				ps := controllerEntries(o, "parents")
				if len(ps) == 0 {
					return fmt.Errorf("HTTPRoute %s: no parent status from %s yet", r.GetName(), cluster.EnvoyGatewayControllerName)
				}
				for _, p := range ps {
					pc, _ := p["conditions"].([]any)
					for _, typ := range []string{"Accepted", "ResolvedRefs"} {
						if err := want(fmt.Sprintf("HTTPRoute %s %s", r.GetName(), typ), conditionStatus(pc, typ), "True"); err != nil {
							return err
						}
					}
				}
			}
			if o, err = get(ctx, routeGVR, g.namespace, bad.GetName()); err != nil {
				return err
			}
			ps := controllerEntries(o, "parents")
			if len(ps) != 1 {
				return fmt.Errorf("HTTPRoute %s: %d parent statuses from Envoy Gateway", bad.GetName(), len(ps))
			}
			pc, _ := ps[0]["conditions"].([]any)
			if err := want("HTTPRoute "+bad.GetName()+" (missing Service) ResolvedRefs", conditionStatus(pc, "ResolvedRefs"), "False"); err != nil {
				return err
			}
			for _, pol := range g.policies {
				o, err := get(ctx, ctpGVR, g.namespace, pol.GetName())
				if err != nil {
					return err
				}
				as := controllerEntries(o, "ancestors")
				if len(as) == 0 {
					return fmt.Errorf("ClientTrafficPolicy %s: no ancestor status yet", pol.GetName())
				}
				for _, a := range as {
					ac, _ := a["conditions"].([]any)
					if err := want("ClientTrafficPolicy "+pol.GetName()+" Accepted", conditionStatus(ac, "Accepted"), "True"); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			fail(err)
		}
		for _, l := range statusLines(ctx) {
			t.Log(l)
		}
	})

	phase(t, "Gateway Programmed once its LoadBalancer Service has an address (stand-in)", func() {
		gw, err := get(ctx, gatewayGVR, g.namespace, g.gateway.GetName())
		if err != nil {
			t.Fatal(err)
		}
		c, _, _ := unstructured.NestedSlice(gw.Object, "status", "conditions")
		t.Logf("before an address: Gateway %s", strings.Join(conditions(c), ", "))
		// The proxy Service the infrastructure runner made for the Gateway.
		sel := fmt.Sprintf("gateway.envoyproxy.io/owning-gateway-name=%s,gateway.envoyproxy.io/owning-gateway-namespace=%s", g.gateway.GetName(), g.namespace)
		var svc *corev1.Service
		if err := cluster.WaitFor(ctx, time.Minute, "the Envoy proxy Service of the Gateway", func(ctx context.Context) error {
			l, err := cl.Client.CoreV1().Services(eg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return err
			}
			if len(l.Items) != 1 {
				return fmt.Errorf("%d Services labelled %s in %s", len(l.Items), sel, eg.Namespace)
			}
			svc = &l.Items[0]
			return nil
		}); err != nil {
			fail(err)
		}
		const ip = "192.0.2.10" // TEST-NET-1
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		if _, err := cl.Client.CoreV1().Services(eg.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("stand-in: Service %s/%s (type %s) given the load-balancer address %s, as MetalLB would", svc.Namespace, svc.Name, svc.Spec.Type, ip)
		if err := cluster.WaitFor(ctx, time.Minute, "Gateway Programmed", func(ctx context.Context) error {
			gw, err := get(ctx, gatewayGVR, g.namespace, g.gateway.GetName())
			if err != nil {
				return err
			}
			c, _, _ := unstructured.NestedSlice(gw.Object, "status", "conditions")
			if err := want("Gateway Programmed", conditionStatus(c, "Programmed"), "True"); err != nil {
				return err
			}
			addrs, _, _ := unstructured.NestedSlice(gw.Object, "status", "addresses")
			if len(addrs) == 0 || addrs[0].(map[string]any)["value"] != ip {
				return fmt.Errorf("Gateway status.addresses = %v, want %s", addrs, ip)
			}
			return nil
		}); err != nil {
			fail(err)
		}
		gw, _ = get(ctx, gatewayGVR, g.namespace, g.gateway.GetName())
		c, _, _ = unstructured.NestedSlice(gw.Object, "status", "conditions")
		t.Logf("with the address: Gateway %s", strings.Join(conditions(c), ", "))
	})
}

// installEnvoyGatewayCRDs installs the CRDs of Envoy Gateway's CRD chart
// that generator/crds does not carry (scripts/e2e-tools.sh copies them out
// of the pinned module into $E2E_CRDS/envoy-gateway).
func installEnvoyGatewayCRDs(t *testing.T, ctx context.Context, cl *cluster.Cluster) {
	t.Helper()
	have, err := crds.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	haveBase := map[string]bool{}
	for p := range have {
		haveBase[filepath.Base(p)] = true
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv("E2E_CRDS"), "envoy-gateway", "*.yaml"))
	if len(files) == 0 {
		t.Fatalf("no CRDs in %s (run scripts/e2e-tools.sh crds)", filepath.Join(os.Getenv("E2E_CRDS"), "envoy-gateway"))
	}
	sort.Strings(files)
	var all [][]byte
	for _, f := range files {
		if haveBase[filepath.Base(f)] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	if err := cl.InstallCRDs(ctx, all); err != nil {
		t.Fatal(err)
	}
}

// TestGatewayXDSTranslation gives the environment's Gateway objects to Envoy
// Gateway's own translator (`egctl x translate`, the code the controller runs
// to program Envoy) and checks the Envoy configuration (xDS) it makes: the
// HTTPS listener's HTTP connection manager has stream_idle_timeout equal to
// ingress.idleTimeout, the route to the frontend has timeout 0s (off;
// Envoy's default of 15 s would cut a long upload), every route that
// forwards has its timeout set (none falls back to 15 s), and the HTTP
// listener only redirects to https with 301. No Envoy binary runs here
// (docs/e2e.md): this is what it would be given.
func TestGatewayXDSTranslation(t *testing.T) {
	g := gatewayBuild(t)
	egctl := filepath.Join(tools.Bin, "egctl")
	if _, err := os.Stat(egctl); err != nil {
		t.Fatalf("%v (run scripts/e2e-tools.sh envoy-gateway)", err)
	}
	idle, err := time.ParseDuration(string(g.env.Ingress.IdleTimeout))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(runDir, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	secret := g.tlsSecret(t)
	// translate runs egctl on the class, Namespace, Gateway, Services, TLS
	// Secret and the given routes and policies, plus what the API server
	// and the EndpointSlice controller would add: a cluster IP and an
	// endpoint for each backend Service. Input and output stay in dir.
	translate := func(name string, routes, policies []*unstructured.Unstructured) map[string]any {
		t.Helper()
		var docs []any
		docs = append(docs, g.class.Object, g.nsObj.Object, g.gateway.Object)
		for i, s := range g.services {
			s = s.DeepCopy()
			unstructured.SetNestedField(s.Object, fmt.Sprintf("10.96.1.%d", 10+i), "spec", "clusterIP")
			docs = append(docs, s.Object)
			var ports []any
			sp, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
			for _, p := range sp {
				pm := p.(map[string]any)
				ports = append(ports, map[string]any{"name": pm["name"], "port": pm["port"], "protocol": "TCP"})
			}
			docs = append(docs, map[string]any{
				"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
				"metadata":  map[string]any{"name": s.GetName() + "-e2e", "namespace": g.namespace, "labels": map[string]any{"kubernetes.io/service-name": s.GetName()}},
				"endpoints": []any{map[string]any{"addresses": []any{fmt.Sprintf("10.244.0.%d", 10+i)}, "conditions": map[string]any{"ready": true}}},
				"ports":     ports,
			})
		}
		for _, o := range append(slices.Clone(routes), policies...) {
			docs = append(docs, o.Object)
		}
		docs = append(docs, secret)
		var in bytes.Buffer
		for _, d := range docs {
			b, err := yaml.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			in.WriteString("---\n")
			in.Write(b)
		}
		inFile := filepath.Join(dir, name+"-in.yaml")
		if err := os.WriteFile(inFile, in.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		var out []byte
		phase(t, "egctl x translate "+name+" (Gateway API -> Gateway API status + xDS)", func() {
			cmd := exec.Command(egctl, "x", "translate", "--from", "gateway-api", "--to", "gateway-api,xds", "-t", "all", "-o", "yaml", "-n", "envoy-gateway-system", "-f", inFile)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if out, err = cmd.Output(); err != nil {
				t.Fatalf("egctl x translate: %v\n%s", err, stderr.String())
			}
			os.WriteFile(filepath.Join(dir, name+"-out.yaml"), out, 0o644)
		})
		var res map[string]any
		if err := yaml.Unmarshal(out, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := translate("generated", g.routes, g.policies)
	t.Logf("translation of %s's Gateway objects: %s", g.env.Name, filepath.Join(dir, "generated-out.yaml"))

	// The translator's statuses: the listener and route conditions the
	// controller sets (it gives no Gateway-level conditions: those depend
	// on the proxy's Deployment and Service).
	for _, gw := range list(res["gateways"]) {
		for _, l := range list(path(gw, "status", "listeners")) {
			c := list(path(l, "conditions"))
			for _, typ := range []string{"Accepted", "ResolvedRefs", "Programmed"} {
				if conditionStatus(c, typ) != "True" {
					t.Errorf("translated Gateway %v listener %v: %s not True: %v", path(gw, "metadata", "name"), path(l, "name"), typ, conditions(c))
				}
			}
		}
	}
	for _, r := range list(res["httpRoutes"]) {
		for _, p := range list(path(r, "status", "parents")) {
			c := list(path(p, "conditions"))
			for _, typ := range []string{"Accepted", "ResolvedRefs"} {
				if conditionStatus(c, typ) != "True" {
					t.Errorf("translated HTTPRoute %v: %s not True: %v", path(r, "metadata", "name"), typ, conditions(c))
				}
			}
		}
	}

	key := g.namespace + "/" + g.gateway.GetName()
	hcms, routeConfigs := envoyListeners(t, res, key)
	for _, l := range []string{"https", "http"} {
		for _, h := range hcms[l] {
			got, err := time.ParseDuration(str(h["streamIdleTimeout"]))
			if err != nil || got != idle {
				t.Errorf("listener %s: stream_idle_timeout %q, want ingress.idleTimeout %s", l, str(h["streamIdleTimeout"]), idle)
			}
			t.Logf("listener %s/%s: HTTP connection manager stream_idle_timeout %s (ingress.idleTimeout %s)", key, l, str(h["streamIdleTimeout"]), g.env.Ingress.IdleTimeout)
			// The proxy appends the client's address to X-Forwarded-For
			// (use_remote_address), so the frontend's WSGI_PROXIES count
			// (app.proxyCount 2: the edge and the frontend) holds.
			if h["useRemoteAddress"] != true {
				t.Errorf("listener %s: use_remote_address %v: the proxy would not add the client to X-Forwarded-For, and app.proxyCount 2 would pick the wrong client address", l, h["useRemoteAddress"])
			}
		}
	}
	frontend := 0
	for _, r := range routeConfigs["https"] {
		fwd, ok := path(r, "route").(map[string]any)
		if !ok {
			t.Errorf("HTTPS route %s does not forward: %v", str(path(r, "name")), r)
			continue
		}
		if !strings.HasPrefix(str(fwd["cluster"]), "httproute/"+g.namespace+"/") {
			continue
		}
		frontend++
		// Envoy's default (timeout unset) is 15 s.
		if str(fwd["timeout"]) != "0s" {
			t.Errorf("HTTPS route %s to %s: timeout %q, want 0s (off; unset would be Envoy's 15 s)", str(path(r, "name")), str(fwd["cluster"]), str(fwd["timeout"]))
		}
		t.Logf("HTTPS route %s -> cluster %s: timeout %s", str(path(r, "name")), str(fwd["cluster"]), str(fwd["timeout"]))
	}
	if frontend == 0 {
		t.Errorf("no HTTPS route forwards to the frontend: %v", routeConfigs["https"])
	}
	if len(routeConfigs["http"]) == 0 {
		t.Errorf("no routes on the HTTP listener")
	}
	for _, r := range routeConfigs["http"] {
		if _, fwd := path(r, "route").(map[string]any); fwd {
			t.Errorf("HTTP route %s forwards (%v); it must only redirect to https", str(path(r, "name")), path(r, "route"))
			continue
		}
		red, ok := path(r, "redirect").(map[string]any)
		// responseCode left out is MOVED_PERMANENTLY (301), the enum's zero.
		code := str(red["responseCode"])
		if !ok || str(red["schemeRedirect"]) != "https" || (code != "" && code != "MOVED_PERMANENTLY") {
			t.Errorf("HTTP route %s: %v, want a 301 redirect to https", str(path(r, "name")), r)
			continue
		}
		t.Logf("HTTP route %s: redirect schemeRedirect https, responseCode %s", str(path(r, "name")), map[bool]string{true: "MOVED_PERMANENTLY (default)", false: code}[code == ""])
	}
	for name, rs := range routeConfigs {
		for _, r := range rs {
			if fwd, ok := path(r, "route").(map[string]any); ok && str(fwd["timeout"]) != "0s" {
				t.Errorf("route %s on %s: timeout %q: a forwarding route without 0s gets Envoy's 15 s default or another limit", str(path(r, "name")), name, str(fwd["timeout"]))
			}
		}
	}

	// The checks can fail: without the route's timeouts and without the
	// ClientTrafficPolicy the same translation leaves the route timeout
	// unset (Envoy's 15 s) and the stream idle timeout at Envoy Gateway's
	// default.
	var bare []*unstructured.Unstructured
	for _, r := range g.routes {
		r = r.DeepCopy()
		rules, _, _ := unstructured.NestedSlice(r.Object, "spec", "rules")
		for _, rule := range rules {
			delete(rule.(map[string]any), "timeouts")
		}
		unstructured.SetNestedSlice(r.Object, rules, "spec", "rules")
		bare = append(bare, r)
	}
	hcms, routeConfigs = envoyListeners(t, translate("without-timeouts", bare, nil), key)
	for _, h := range hcms["https"] {
		if got, _ := time.ParseDuration(str(h["streamIdleTimeout"])); got == idle {
			t.Errorf("without the ClientTrafficPolicy the stream idle timeout is still %s: the check above proves nothing", idle)
		}
		t.Logf("without the ClientTrafficPolicy: stream_idle_timeout %q", str(h["streamIdleTimeout"]))
	}
	for _, r := range routeConfigs["https"] {
		if fwd, ok := path(r, "route").(map[string]any); ok {
			if str(fwd["timeout"]) == "0s" {
				t.Errorf("without timeouts.request the route's timeout is still 0s: the check above proves nothing")
			}
			t.Logf("without timeouts.request: route %s timeout %q (unset: Envoy's 15 s)", str(path(r, "name")), str(fwd["timeout"]))
		}
	}
}

// envoyListeners reads, from egctl's translation, the xDS of the Gateway
// key (<namespace>/<name>): per Gateway listener (https, http) its HTTP
// connection managers (plain HTTP's is the default filter chain) and the
// routes of the route configurations they name (rds).
func envoyListeners(t *testing.T, res map[string]any, key string) (map[string][]map[string]any, map[string][]any) {
	t.Helper()
	configs := list(path(res, "xds", key, "configs"))
	if len(configs) == 0 {
		t.Fatalf("no xDS for %s in the translation (keys: %v)", key, keys(path(res, "xds")))
	}
	dump := func(typ string) map[string]any {
		for _, c := range configs {
			if str(path(c, "@type")) == "type.googleapis.com/envoy.admin.v3."+typ {
				return c.(map[string]any)
			}
		}
		t.Fatalf("no %s in the xDS of %s", typ, key)
		return nil
	}
	prefix := key + "/" // listener names: <namespace>/<gateway>/<listener>
	hcms := map[string][]map[string]any{}
	for _, l := range list(dump("ListenersConfigDump")["dynamicListeners"]) {
		lis := path(l, "activeState", "listener")
		name := str(path(lis, "name"))
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		chains := list(path(lis, "filterChains"))
		if dc := path(lis, "defaultFilterChain"); dc != nil {
			chains = append(chains, dc)
		}
		for _, fc := range chains {
			for _, f := range list(path(fc, "filters")) {
				if str(path(f, "name")) == "envoy.filters.network.http_connection_manager" {
					ln := strings.TrimPrefix(name, prefix)
					hcms[ln] = append(hcms[ln], path(f, "typedConfig").(map[string]any))
				}
			}
		}
	}
	routesByConfig := map[string][]any{}
	for _, rc := range list(dump("RoutesConfigDump")["dynamicRouteConfigs"]) {
		name := str(path(rc, "routeConfig", "name"))
		for _, vh := range list(path(rc, "routeConfig", "virtualHosts")) {
			routesByConfig[name] = append(routesByConfig[name], list(path(vh, "routes"))...)
		}
	}
	routes := map[string][]any{}
	for _, l := range []string{"https", "http"} {
		if len(hcms[l]) == 0 {
			t.Fatalf("no HTTP connection manager on listener %s%s (have %v)", prefix, l, keys(hcms))
		}
		for _, h := range hcms[l] {
			rc := str(path(h, "rds", "routeConfigName"))
			if rc == "" {
				t.Fatalf("listener %s: HTTP connection manager without rds.routeConfigName", l)
			}
			routes[l] = append(routes[l], routesByConfig[rc]...)
		}
	}
	return hcms, routes
}

// path walks nested maps; nil when a key is missing.
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func keys(m any) []string {
	var out []string
	switch mm := m.(type) {
	case map[string]any:
		for k := range mm {
			out = append(out, k)
		}
	case map[string][]map[string]any:
		for k := range mm {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
