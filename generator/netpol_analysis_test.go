package generator

// NetworkPolicy analysis: the connections the built NetworkPolicies allow
// are computed by a real analyser, np-guard's netpol-analyzer (its
// connlist package, the library behind `k8snetpolicy list`), and compared
// with the table of intended flows that docs/network-flows.md shows. Our
// own reading of the policies (generator/network's tests) could share a
// misunderstanding with the code that writes them; the analyser cannot.
// docs/network-analysis.md says what it checks and what it cannot model.

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/np-guard/models/pkg/netset"
	"github.com/np-guard/netpol-analyzer/pkg/netpol/connlist"
	routev1 "github.com/openshift/api/route/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/resource"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
)

// npFlow is one allowed connection as both sides are compared: the ends
// by flow-table name (component, network.IngressController, network.KubeDNS,
// network.ACMESolver, or "outside <CIDRs>") and "port/protocol".
type npFlow struct{ From, To, Port string }

func (f npFlow) String() string { return f.From + " → " + f.To + " " + f.Port }

// npRows are flows as the lines a diff shows, each once: two workloads of
// one component (the backup-opensearch CronJob and its repository Job) are
// one row of the flow table.
func npRows(fs []npFlow) []string {
	var out []string
	for _, f := range fs {
		if r := f.String(); len(out) == 0 || out[len(out)-1] != r {
			out = append(out, r)
		}
	}
	return out
}

func npSort(fs []npFlow) []npFlow {
	sort.Slice(fs, func(i, j int) bool { return fs[i].String() < fs[j].String() })
	return fs
}

// npOutside names the outside world by the addresses it covers, so that
// an ipBlock wider than declared is a different row, not the same one.
func npOutside(b *netset.IPBlock) string { return network.Outside + " " + b.ToCidrListString() }

// npIntended is the flow table of an environment (network.Flows, the rows
// of docs/network-flows.md), with the outside world resolved to the CIDRs
// the component declares; flows to one destination port are merged, as
// the analyser reports each disjoint address block once.
func npIntended(t *testing.T, e config.Environment, cs []*component.Component) []npFlow {
	t.Helper()
	idx := component.Index(cs)
	outside := map[[2]string]*netset.IPBlock{} // from, port → addresses
	var out []npFlow
	for _, f := range EnvironmentFlows(e, cs) {
		port := fmt.Sprintf("%d/%s", f.Port, f.Protocol)
		if f.To != network.Outside {
			out = append(out, npFlow{f.From, f.To, port})
			continue
		}
		var cidrs []string
		for _, ext := range idx[f.From].External {
			if ext.Port == f.Port && ext.Why == f.Why {
				cidrs = append(cidrs, ext.CIDRs...)
			}
		}
		b, err := netset.IPBlockFromCidrList(cidrs)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		k := [2]string{f.From, port}
		if outside[k] != nil {
			b = b.Union(outside[k])
		}
		outside[k] = b
	}
	for k, b := range outside {
		out = append(out, npFlow{k[0], npOutside(b), k[1]})
	}
	return npSort(out)
}

// The cluster around the namespace, as the analyser needs to see it: the
// peers the policies name outside the namespace exist only on a real
// cluster, so they are stated here with the labels they carry there.
const (
	npKubeSystem = "kube-system"
	// npSolverPod is how cert-manager names the HTTP-01 solver pod it
	// starts in the Certificate's namespace (generateName cm-acme-http-solver-).
	npSolverPod = "cm-acme-http-solver-x7k2p"
)

// npClusterPeers are the edges (the ingress-nginx controller with labels
// from the environment's ingress settings plus the chart's own, Envoy
// Gateway's proxies of the environment's Gateway, or both),
// CoreDNS as kubeadm deploys it (Deployment coredns, label
// k8s-app: kube-dns, in kube-system), and cert-manager's HTTP-01 solver
// pod with the labels cert-manager gives it, and Prometheus where the
// environment is monitored. names maps each to its
// flow-table name.
func npClusterPeers(e config.Environment) (objs []runtime.Object, names map[string]string) {
	deployment := func(ns, name string, labels map[string]string, ports ...corev1.ContainerPort) *appsv1.Deployment {
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: name, Ports: ports}}},
				},
			},
		}
	}
	namespace := func(name string) *corev1.Namespace {
		return &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
	}
	solver := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: npSolverPod, Namespace: string(e.Namespace), Labels: map[string]string{
			"acme.cert-manager.io/http01-solver": "true",
			"acme.cert-manager.io/http-domain":   "1306491213",
			"acme.cert-manager.io/http-token":    "1157279898",
		}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "acmesolver", Image: "quay.io/jetstack/cert-manager-acmesolver",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8089, Protocol: corev1.ProtocolTCP}}}}},
	}
	names = map[string]string{}
	// The edges, stated from the description and the controllers' own
	// labelling (not from the generator's Edges): the ingress-nginx
	// controller with the chart's labels, and Envoy Gateway's proxies of
	// the environment's Gateway with the labels Envoy Gateway gives them
	// (internal/infrastructure/kubernetes/proxy/resource.go EnvoyAppLabel
	// and internal/gatewayapi/helpers.go of v1.9.1), named as it names them.
	type edge struct {
		ns, name, flowName string
		labels             map[string]string
	}
	var edges []edge
	if e.Ingress.Exposure.Ingress() {
		l := map[string]string{"app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "ingress-nginx"}
		maps.Copy(l, e.Ingress.ControllerLabels)
		edges = append(edges, edge{string(e.Ingress.ControllerNamespace), "ingress-nginx-controller", network.IngressController, l})
	}
	if e.Ingress.Exposure.Gateway() {
		edges = append(edges, edge{string(e.Ingress.Gateway.DataPlaneNamespace), "envoy-" + string(e.Namespace) + "-invenio-5f3a9c1e", GatewayEdge, map[string]string{
			"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway",
			"gateway.envoyproxy.io/owning-gateway-name": "invenio", "gateway.envoyproxy.io/owning-gateway-namespace": string(e.Namespace),
		}})
	}
	if e.Ingress.Exposure.Route() {
		// OpenShift's default router (Deployment router-default of the
		// ingress operator) in the namespace labelled as the description
		// says.
		edges = append(edges, edge{config.OpenShiftRouterNamespace, "router-default", RouterEdge, map[string]string{
			"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default",
		}})
	}
	names = map[string]string{}
	for _, ed := range edges {
		ns := namespace(ed.ns)
		if ed.flowName == RouterEdge {
			maps.Copy(ns.Labels, e.Ingress.Route.RouterNamespaceLabels)
		}
		objs = append(objs, ns, deployment(ed.ns, ed.name, ed.labels,
			corev1.ContainerPort{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: "https", ContainerPort: 443, Protocol: corev1.ProtocolTCP}))
		names[ed.ns+"/"+ed.name] = ed.flowName
	}
	objs = append(objs,
		namespace(npKubeSystem),
		deployment(npKubeSystem, "coredns", map[string]string{"k8s-app": "kube-dns"},
			corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
			corev1.ContainerPort{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: "metrics", ContainerPort: 9153, Protocol: corev1.ProtocolTCP}),
		solver,
	)
	names[npKubeSystem+"/coredns"] = network.KubeDNS
	names[string(e.Namespace)+"/"+npSolverPod] = network.ACMESolver
	// Prometheus, with the pod labels the description gives, where the
	// environment is monitored.
	if m := e.Monitoring; m.Enabled {
		promNS := string(m.PrometheusNamespace)
		objs = append(objs, namespace(promNS), deployment(promNS, "prometheus", m.PrometheusLabels,
			corev1.ContainerPort{Name: "web", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}))
		names[promNS+"/prometheus"] = network.Prometheus
	}
	return objs, names
}

// npInput is what the analyser is given: every object of the build plus
// the cluster peers, and the flow-table name of every workload.
type npInput struct {
	Namespace string // the environment's namespace
	Objects   []*unstructured.Unstructured
	Names     map[string]string // namespace/workload → flow-table name
}

// npLoad decodes a built environment and adds the cluster peers. A
// workload of the build is named by its pods' app.kubernetes.io/name
// label, which is the component's name (the Job invenio-setup is "setup").
func npLoad(t *testing.T, e config.Environment, built []byte) npInput {
	t.Helper()
	in := npInput{Namespace: string(e.Namespace)}
	for _, doc := range splitDocs(built) {
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatal(err)
		}
		in.Objects = append(in.Objects, &unstructured.Unstructured{Object: m})
	}
	peers, names := npClusterPeers(e)
	for _, o := range peers {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
		if err != nil {
			t.Fatal(err)
		}
		in.Objects = append(in.Objects, &unstructured.Unstructured{Object: m})
	}
	in.Names = names
	for _, u := range in.Objects {
		template := []string{"spec", "template"}
		switch u.GetKind() {
		case "CronJob":
			template = []string{"spec", "jobTemplate", "spec", "template"}
			fallthrough
		case "Deployment", "StatefulSet", "DaemonSet", "Job":
			if u.GetNamespace() != in.Namespace {
				continue
			}
			name, _, _ := unstructured.NestedString(u.Object, append(template, "metadata", "labels", "app.kubernetes.io/name")...)
			if name == "" {
				t.Fatalf("%s/%s has no app.kubernetes.io/name label on its pods", u.GetKind(), u.GetName())
			}
			in.Names[in.Namespace+"/"+u.GetName()] = name
		}
	}
	return in
}

// npLogger keeps what the analyser reports while it works.
type npLogger struct{ warnings, errors []string }

func (l *npLogger) Debugf(string, ...any)    {}
func (l *npLogger) Infof(string, ...any)     {}
func (l *npLogger) Warnf(f string, o ...any) { l.warnings = append(l.warnings, fmt.Sprintf(f, o...)) }
func (l *npLogger) Errorf(err error, f string, o ...any) {
	l.errors = append(l.errors, fmt.Sprintf("%v %s", err, fmt.Sprintf(f, o...)))
}

// npAnalyse runs the analyser on in and returns every allowed connection
// with at least one end in the environment's namespace (the peers outside
// it have no policies, so the analyser rightly allows everything between
// them, the outside world included), plus the analyser's warnings.
func npAnalyse(t *testing.T, in npInput) (flows []npFlow, warnings []string) {
	t.Helper()
	var infos []*resource.Info
	for i, u := range in.Objects {
		infos = append(infos, &resource.Info{Object: u, Source: fmt.Sprintf("document %d (%s/%s)", i, u.GetKind(), u.GetName())})
	}
	log := &npLogger{}
	ca := connlist.NewConnlistAnalyzer(connlist.WithLogger(log))
	conns, _, err := ca.ConnlistFromResourceInfos(infos)
	if err != nil {
		t.Fatalf("netpol-analyzer: %v", err)
	}
	for _, e := range ca.Errors() {
		if e.IsFatal() || e.IsSevere() {
			t.Errorf("netpol-analyzer: %v %s", e.Error(), e.Location())
		}
	}
	for _, e := range log.errors {
		t.Errorf("netpol-analyzer: %s", e)
	}
	name := func(p connlist.Peer) string {
		if n, ok := in.Names[p.Namespace()+"/"+p.Name()]; ok {
			return n
		}
		return p.String() // unknown peers show as the analyser names them
	}
	outside := map[[3]string]*netset.IPBlock{} // from, to, port → addresses
	for _, c := range conns {
		src, dst := c.Src(), c.Dst()
		if src.Namespace() != in.Namespace && dst.Namespace() != in.Namespace {
			continue
		}
		var ports []string
		if c.AllProtocolsAndPorts() {
			ports = []string{"all"}
		}
		for proto, ranges := range c.ProtocolsAndPorts() {
			for _, r := range ranges {
				// The analyser lists the denied ranges around the allowed
				// ones too (for its explanations): keep the allowed.
				if a, ok := r.(interface{ InSet() bool }); ok && !a.InSet() {
					continue
				}
				if r.Start() == r.End() {
					ports = append(ports, fmt.Sprintf("%d/%s", r.Start(), proto))
				} else {
					ports = append(ports, fmt.Sprintf("%d-%d/%s", r.Start(), r.End(), proto))
				}
			}
		}
		for _, port := range ports {
			if !src.IsPeerIPType() && !dst.IsPeerIPType() {
				flows = append(flows, npFlow{name(src), name(dst), port})
				continue
			}
			ip, k := src, [3]string{"", name(dst), port}
			if dst.IsPeerIPType() {
				ip, k = dst, [3]string{name(src), "", port}
			}
			b, err := netset.IPBlockFromIPRangeStr(ip.String())
			if err != nil {
				t.Fatalf("address block %q of the analyser: %v", ip.String(), err)
			}
			if outside[k] != nil {
				b = b.Union(outside[k])
			}
			outside[k] = b
		}
	}
	for k, b := range outside {
		f := npFlow{k[0], k[1], k[2]}
		if f.From == "" {
			f.From = npOutside(b)
		} else {
			f.To = npOutside(b)
		}
		flows = append(flows, f)
	}
	return npSort(flows), log.warnings
}

// npIngressAnalysisBlocked is how the analyser names the workload in its
// warning that an Ingress routes to a workload whose policies are closed
// to "an arbitrary in-cluster source": it models the ingress controller as
// a pod without labels in a namespace of its own, which our policies
// rightly do not let in.
func npIngressAnalysisBlocked(namespace, workload string) string {
	return fmt.Sprintf("specified workload %s/%s[", namespace, workload)
}

// npWarningProblems lists the analyser warnings that are problems: all
// but the expected ones, that each workload an Ingress routes to (backends,
// by workload name) is closed to the analyser's generic ingress controller
// (only the configured controller may reach it) — and their absence.
func npWarningProblems(in npInput, backends []string, warnings []string) []string {
	const closed = "network policies are blocking ingress connections from an arbitrary in-cluster source"
	var problems []string
	seen := map[string]bool{}
	for _, w := range warnings {
		expected := false
		for _, b := range backends {
			if strings.Contains(w, npIngressAnalysisBlocked(in.Namespace, b)) && strings.Contains(w, closed) {
				seen[b], expected = true, true
			}
		}
		if !expected {
			problems = append(problems, "netpol-analyzer warns: "+w)
		}
	}
	for _, b := range backends {
		if !seen[b] {
			problems = append(problems, fmt.Sprintf("netpol-analyzer did not find %s/%s closed to an arbitrary ingress controller: it lets in more than the configured controller", in.Namespace, b))
		}
	}
	return problems
}

// npBackends are the workloads of in that the flow table lets the ingress
// controller (or the OpenShift router) reach through an Ingress (Route)
// of the build.
func npBackends(t *testing.T, in npInput, e config.Environment, cs []*component.Component) []string {
	t.Helper()
	if !npHasKind(in, "Ingress") && !npHasKind(in, "Route") {
		return nil // the analyser reads Ingresses and Routes, not Gateway API routes
	}
	var out []string
	for _, f := range npIntendedRoutes(t, e, cs) {
		if f.From != network.IngressController && f.From != RouterEdge {
			continue
		}
		for k, n := range in.Names {
			if n == f.To && strings.HasPrefix(k, in.Namespace+"/") {
				out = append(out, strings.TrimPrefix(k, in.Namespace+"/"))
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatal("no workload behind an Ingress: the warning check would pass vacuously")
	}
	return out
}

// npEnv is one built environment: its components and the analyser input.
type npEnv struct {
	Name       string
	Env        config.Environment
	Components []*component.Component
	Input      npInput
}

func npEnvs(t *testing.T) map[string]npEnv {
	t.Helper()
	p, tr := generate(t)
	out := map[string]npEnv{}
	for _, e := range p.Environments {
		built, err := BuildYAML(tr, "overlays/"+string(e.Name))
		if err != nil {
			t.Fatal(err)
		}
		cs, err := Components(p.Site, e, invenio.Options{})
		if err != nil {
			t.Fatal(err)
		}
		out[string(e.Name)] = npEnv{string(e.Name), e, cs, npLoad(t, e, built)}
	}
	return out
}

// npGatewayEnv is an environment of the fixture exposed through a Gateway.
func npGatewayEnv(t *testing.T, envs map[string]npEnv) npEnv {
	t.Helper()
	for _, n := range npSortedNames(envs) {
		if npHasKind(envs[n].Input, "HTTPRoute") {
			return envs[n]
		}
	}
	t.Fatal("no environment of the fixture has ingress.exposure: gateway")
	return npEnv{}
}

func ptrTo[T any](v T) *T { return &v }

func npSortedNames(m map[string]npEnv) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

// TestNetworkPoliciesAllowExactlyTheIntendedFlows: for every environment,
// the connections netpol-analyzer finds allowed by the built manifests are
// exactly the rows of docs/network-flows.md — no extra, none missing.
func TestNetworkPoliciesAllowExactlyTheIntendedFlows(t *testing.T) {
	envs := npEnvs(t)
	for _, name := range npSortedNames(envs) {
		env := envs[name]
		t.Run(name, func(t *testing.T) {
			analysed, warnings := npAnalyse(t, env.Input)
			for _, p := range npWarningProblems(env.Input, npBackends(t, env.Input, env.Env, env.Components), warnings) {
				t.Error(p)
			}
			if d := cmp.Diff(npRows(npIntended(t, env.Env, env.Components)), npRows(analysed)); d != "" {
				t.Errorf("the NetworkPolicies of %s allow other flows than docs/network-flows.md (-intended +allowed):\n%s", name, d)
			}
		})
	}
}

// npHasKind reports whether the build has an object of kind.
func npHasKind(in npInput, kind string) bool {
	for _, u := range in.Objects {
		if u.GetKind() == kind {
			return true
		}
	}
	return false
}

// npGatewayRoutes resolves the HTTPRoutes (and OpenShift Routes) of the
// build as the Gateway's proxies (the router) follow them (backendRef →
// Service port → target port → the container port of the Deployment the
// Service selects): netpol-analyzer reads Ingresses only.
func npGatewayRoutes(t *testing.T, in npInput) []npFlow {
	t.Helper()
	byKind := map[string][]map[string]any{}
	for _, u := range in.Objects {
		byKind[u.GetKind()] = append(byKind[u.GetKind()], u.Object)
	}
	var routes []npFlow
	// resolve adds the container ports behind the ports of Service name
	// that port picks, reached from edge.
	resolve := func(edge, name string, port func(corev1.ServicePort) bool) {
		for _, so := range byKind["Service"] {
			var svc corev1.Service
			npFromUnstructured(t, so, &svc)
			if svc.Name != name {
				continue
			}
			for _, sp := range svc.Spec.Ports {
				if !port(sp) {
					continue
				}
				for _, do := range byKind["Deployment"] {
					var dep appsv1.Deployment
					npFromUnstructured(t, do, &dep)
					if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(dep.Spec.Template.Labels)) {
						continue
					}
					for _, c := range dep.Spec.Template.Spec.Containers {
						for _, cp := range c.Ports {
							if (sp.TargetPort.Type == intstr.String && cp.Name == sp.TargetPort.StrVal) || (sp.TargetPort.Type == intstr.Int && cp.ContainerPort == sp.TargetPort.IntVal) {
								routes = append(routes, npFlow{edge, dep.Name, fmt.Sprintf("%d/%s", cp.ContainerPort, cp.Protocol)})
							}
						}
					}
				}
			}
		}
	}
	for _, r := range byKind["HTTPRoute"] {
		var route gwapiv1.HTTPRoute
		npFromUnstructured(t, r, &route)
		for _, rule := range route.Spec.Rules {
			for _, b := range rule.BackendRefs {
				resolve(GatewayEdge, string(b.Name), func(sp corev1.ServicePort) bool { return b.Port != nil && sp.Port == int32(*b.Port) })
			}
		}
	}
	for _, r := range byKind["Route"] {
		var route routev1.Route
		npFromUnstructured(t, r, &route)
		// OpenShift: spec.port.targetPort names the Service's port (its
		// endpoints' port name) or gives its target port number.
		tp := route.Spec.Port.TargetPort
		resolve(RouterEdge, route.Spec.To.Name, func(sp corev1.ServicePort) bool {
			return (tp.Type == intstr.String && sp.Name == tp.StrVal) || (tp.Type == intstr.Int && sp.TargetPort.IntVal == tp.IntVal)
		})
	}
	return npSort(routes)
}

func npFromUnstructured(t *testing.T, obj map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}

// npRoutes is where the built Ingress (or HTTPRoute) sends the ingress
// controller (or Gateway), as the analyser resolves it (Ingress → Service
// → pod port), with the NetworkPolicies left out so that they cannot hide
// a route.
func npRoutes(t *testing.T, in npInput) []npFlow {
	t.Helper()
	var gateway []npFlow
	if npHasKind(in, "HTTPRoute") || npHasKind(in, "Route") {
		gateway = npGatewayRoutes(t, in)
		if !npHasKind(in, "Ingress") {
			return gateway
		}
	}
	open := in
	open.Objects = nil
	for _, u := range in.Objects {
		if u.GetKind() != "NetworkPolicy" {
			open.Objects = append(open.Objects, u)
		}
	}
	analysed, _ := npAnalyse(t, open) // warns that there are no policies
	var routes []npFlow
	for _, f := range analysed {
		if f.From == "{ingress-controller}" {
			routes = append(routes, npFlow{network.IngressController, f.To, f.Port})
		}
	}
	for _, g := range gateway { // both exposures route the same way
		if !slices.Contains(routes, g) {
			routes = append(routes, g)
		}
	}
	return npSort(routes)
}

// npIntendedRoutes are the flows from the ingress controller that an
// Ingress of the build routes (the HTTP-01 solver's route is the
// temporary Ingress cert-manager creates, not part of the build).
func npIntendedRoutes(t *testing.T, e config.Environment, cs []*component.Component) []npFlow {
	var out []npFlow
	for _, f := range npIntended(t, e, cs) {
		if (f.From == network.IngressController || f.From == GatewayEdge || f.From == RouterEdge) && f.To != network.ACMESolver {
			out = append(out, f)
		}
	}
	return out
}

// TestIngressRoutesMatchTheIntendedFlows: the port the Ingress routes to
// (through the Service's named target port) is the port the policies open
// to the ingress controller; otherwise public traffic would be dropped.
func TestIngressRoutesMatchTheIntendedFlows(t *testing.T) {
	envs := npEnvs(t)
	for _, name := range npSortedNames(envs) {
		env := envs[name]
		t.Run(name, func(t *testing.T) {
			want := npIntendedRoutes(t, env.Env, env.Components)
			if len(want) == 0 {
				t.Fatal("no flow from the ingress controller in the flow table: the check would pass vacuously")
			}
			if d := cmp.Diff(npRows(want), npRows(npRoutes(t, env.Input))); d != "" {
				t.Errorf("the Ingress of %s routes elsewhere than the flow table lets the ingress controller in (-intended +routed):\n%s", name, d)
			}
		})
	}
	// Negative case: an HTTPRoute sent to another Service is another route.
	t.Run("wrong HTTPRoute backend is caught", func(t *testing.T) {
		env := npGatewayEnv(t, envs)
		in := npEdit(t, env.Input, "HTTPRoute", "invenio", func(r *gwapiv1.HTTPRoute) *gwapiv1.HTTPRoute {
			b := &r.Spec.Rules[0].BackendRefs[0]
			b.Name, b.Port = "web-ui", ptrTo(gwapiv1.PortNumber(5000))
			return r
		})
		got := npRoutes(t, in)
		if d := cmp.Diff([]npFlow{{GatewayEdge, "web-ui", "5000/TCP"}}, got); d != "" {
			t.Errorf("routes of an HTTPRoute sent to web-ui (-want +got):\n%s", d)
		}
	})
	// Negative case: an Ingress sent to another Service is another route.
	t.Run("wrong backend is caught", func(t *testing.T) {
		env := envs["dev"]
		in := npEdit(t, env.Input, "Ingress", "invenio", func(ing *networkingv1.Ingress) *networkingv1.Ingress {
			b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service
			b.Name, b.Port = "web-ui", networkingv1.ServiceBackendPort{Name: "uwsgi"}
			return ing
		})
		got := npRoutes(t, in)
		if d := cmp.Diff([]npFlow{{network.IngressController, "web-ui", "5000/TCP"}}, got); d != "" {
			t.Errorf("routes of an Ingress sent to web-ui (-want +got):\n%s", d)
		}
		if cmp.Equal(npIntendedRoutes(t, env.Env, env.Components), got) {
			t.Error("the route check does not see an Ingress sent to the wrong Service")
		}
	})
}

// ---------------------------------------------------------------------
// Negative cases: a policy mistake shows up as exactly the extra or
// missing flow it causes.

// npEdit returns a copy of in whose objects of kind/name pass through
// edit (decoded into the typed object T); a nil result deletes the object.
func npEdit[T any](t *testing.T, in npInput, kind, name string, edit func(*T) *T) npInput {
	t.Helper()
	out := in
	out.Objects = nil
	found := false
	for _, u := range in.Objects {
		if u.GetKind() != kind || u.GetName() != name || u.GetNamespace() != in.Namespace {
			out.Objects = append(out.Objects, u)
			continue
		}
		found = true
		var o T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.DeepCopy().Object, &o); err != nil {
			t.Fatal(err)
		}
		edited := edit(&o)
		if edited == nil {
			continue
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(edited)
		if err != nil {
			t.Fatal(err)
		}
		out.Objects = append(out.Objects, &unstructured.Unstructured{Object: m})
	}
	if !found {
		t.Fatalf("no %s %s in %s to edit", kind, name, in.Namespace)
	}
	return out
}

type netpol = networkingv1.NetworkPolicy

// npPolicy edits the NetworkPolicy name of in.
func npPolicy(t *testing.T, in npInput, name string, edit func(*netpol) *netpol) npInput {
	return npEdit(t, in, "NetworkPolicy", name, edit)
}

// npSelect is the peer selecting component c's pods: the podSelector of
// c's own NetworkPolicy in the build.
func npSelect(t *testing.T, in npInput, c string) networkingv1.NetworkPolicyPeer {
	t.Helper()
	for _, u := range in.Objects {
		if u.GetKind() == "NetworkPolicy" && u.GetName() == c && u.GetNamespace() == in.Namespace {
			var np netpol
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &np); err != nil {
				t.Fatal(err)
			}
			return networkingv1.NetworkPolicyPeer{PodSelector: np.Spec.PodSelector.DeepCopy()}
		}
	}
	t.Fatalf("no NetworkPolicy %s in %s", c, in.Namespace)
	return networkingv1.NetworkPolicyPeer{}
}

func npTCP(port int32) []networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	tcp := corev1.ProtocolTCP
	return []networkingv1.NetworkPolicyPort{{Protocol: &tcp, Port: &p}}
}

// npSubtract is what a has and b has not.
func npSubtract(a, b []npFlow) []npFlow {
	has := map[npFlow]bool{}
	for _, f := range b {
		has[f] = true
	}
	var out []npFlow
	for _, f := range a {
		if !has[f] {
			out = append(out, f)
		}
	}
	return out
}

// TestNetworkAnalysisCatchesPolicyMistakes breaks the built policies the
// ways they could go wrong and checks that the comparison reports exactly
// the flows the mistake opens or closes, and nothing when a mistake opens
// only one side (both ends' policies must allow a connection).
func TestNetworkAnalysisCatchesPolicyMistakes(t *testing.T) {
	envs := npEnvs(t)
	const ic, dns, solver = network.IngressController, network.KubeDNS, network.ACMESolver
	for _, tc := range []struct {
		name           string
		env            string
		mutate         func(t *testing.T, in npInput) npInput
		extra, missing func(in npInput) []npFlow
		warns          bool // the analyser's warnings are a problem too
	}{
		{
			name: "extra allowance on both ends",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				pg, beat := npSelect(t, in, "postgresql"), npSelect(t, in, "beat")
				in = npPolicy(t, in, "beat", func(np *netpol) *netpol {
					np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{pg}, Ports: npTCP(5432)})
					return np
				})
				return npPolicy(t, in, "postgresql", func(np *netpol) *netpol {
					np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{From: []networkingv1.NetworkPolicyPeer{beat}, Ports: npTCP(5432)})
					return np
				})
			},
			extra: func(npInput) []npFlow { return []npFlow{{"beat", "postgresql", "5432/TCP"}} },
		},
		{
			name: "allowance on the client end only is no flow",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				pg := npSelect(t, in, "postgresql")
				return npPolicy(t, in, "beat", func(np *netpol) *netpol {
					np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{To: []networkingv1.NetworkPolicyPeer{pg}, Ports: npTCP(5432)})
					return np
				})
			},
		},
		{
			name: "removed policy",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				return npPolicy(t, in, "allow-"+solver, func(*netpol) *netpol { return nil })
			},
			missing: func(npInput) []npFlow { return []npFlow{{ic, solver, "8089/TCP"}} },
		},
		{
			name: "removed egress rule",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				return npPolicy(t, in, "dashboards", func(np *netpol) *netpol { np.Spec.Egress = nil; return np })
			},
			missing: func(npInput) []npFlow { return []npFlow{{"dashboards", "opensearch", "9200/TCP"}} },
		},
		{
			name: "widened podSelector",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				return npPolicy(t, in, "allow-"+solver, func(np *netpol) *netpol { np.Spec.PodSelector = metav1.LabelSelector{}; return np })
			},
			// every pod of the namespace now lets the controller in on 8089
			extra: func(in npInput) []npFlow {
				var fs []npFlow
				for k, n := range in.Names {
					if strings.HasPrefix(k, in.Namespace+"/") && n != solver {
						fs = append(fs, npFlow{ic, n, "8089/TCP"})
					}
				}
				return fs
			},
		},
		{
			name: "widened peer: any pod of any namespace to the frontend",
			env:  "dev",
			mutate: func(t *testing.T, in npInput) npInput {
				return npPolicy(t, in, "frontend", func(np *netpol) *netpol {
					np.Spec.Ingress[0].From = []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}
					return np
				})
			},
			// CoreDNS, and the analyser's own generic ingress controller
			extra: func(npInput) []npFlow {
				return []npFlow{{dns, "frontend", "8080/TCP"}, {"{ingress-controller}", "frontend", "8080/TCP"}}
			},
			warns: true,
		},
		{
			name: "wider ipBlock to the identity provider",
			env:  "prod",
			mutate: func(t *testing.T, in npInput) npInput {
				return npPolicy(t, in, "web-ui", func(np *netpol) *netpol {
					for i, r := range np.Spec.Egress {
						for j, p := range r.To {
							if p.IPBlock != nil {
								np.Spec.Egress[i].To[j].IPBlock = &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}
							}
						}
					}
					return np
				})
			},
			extra:   func(npInput) []npFlow { return []npFlow{{"web-ui", "outside 0.0.0.0/0", "443/TCP"}} },
			missing: func(npInput) []npFlow { return []npFlow{{"web-ui", "outside 128.3.0.0/16, 131.243.0.0/16", "443/TCP"}} },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := envs[tc.env]
			intended := npIntended(t, env.Env, env.Components)
			in := tc.mutate(t, env.Input)
			analysed, warnings := npAnalyse(t, in)
			if problems := npWarningProblems(in, npBackends(t, in, env.Env, env.Components), warnings); (len(problems) > 0) != tc.warns {
				t.Errorf("warning problems %q, want some: %v", problems, tc.warns)
			}
			var want [2][]npFlow
			if tc.extra != nil {
				want[0] = npSort(tc.extra(in))
			}
			if tc.missing != nil {
				want[1] = npSort(tc.missing(in))
			}
			got := [2][]npFlow{npSubtract(analysed, intended), npSubtract(intended, analysed)}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("[extra, missing] flows reported for the broken policies (-want +got):\n%s", d)
			}
		})
	}
}
