package flux

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
)

// File is one file of an infrastructure directory.
type File struct {
	Name    string
	Objects []any
}

// InfrastructureFiles is what the two infrastructure layers apply.
type InfrastructureFiles struct {
	Controllers []File // HelmRepository + HelmRelease per controller
	Configs     []File // objects of the controllers' CRDs
}

// chart is one infrastructure controller as a Helm chart.
type chart struct {
	file, repoName, repoURL, chart string
	repoType                       string // "oci" for an OCI registry, else a Helm repository index
	release, namespace             string
	values                         map[string]any
	spec                           config.Chart
	dependsOn                      []string // HelmReleases (by name) installed first
	skip                           bool     // no environment of the cluster needs it
	keep                           bool     // Flux never uninstalls it (CRDs other objects may use)
}

// Infrastructure renders the shared infrastructure directories: the
// controllers any environment of p needs and the ACME ClusterIssuers,
// with the settings of envs (p.Defaults). A cluster's own infrastructure
// (ClusterInfrastructure) is a subset of it with other field values,
// which the cluster's Kustomizations patch in.
func Infrastructure(p *config.Platform, envs ...config.Environment) (InfrastructureFiles, error) {
	return infrastructure(p, p.Environments, envs)
}

// ClusterInfrastructure renders the infrastructure of cluster c: the
// controllers its environments need (an OpenShift cluster that only has
// Routes runs neither ingress-nginx nor Envoy Gateway) with their
// settings. The settings a cluster runs once (the sealed-secrets
// controller's name and namespace, the ingress controller's namespace and
// class) are the same in all of them (config validates it), so the first
// speaks for the cluster; the ingress controller's idle timeouts are the
// longest ingress.idleTimeout among them.
func ClusterInfrastructure(p *config.Platform, c Cluster) (InfrastructureFiles, error) {
	return infrastructure(p, c.Envs, c.Envs)
}

// infrastructure installs the controllers the environments users need,
// with the settings of envs.
func infrastructure(p *config.Platform, users, envs []config.Environment) (InfrastructureFiles, error) {
	in := p.Infrastructure
	e := envs[0]
	idle := fmt.Sprint(longestIdleTimeout(envs))
	// Certificates are issued through the Ingress while an environment
	// has one (during a migration, until the Ingress goes), else through
	// the environment's Gateway or, on OpenShift, through an Ingress of
	// the router's class (OpenShift makes it a Route).
	var ingressEnvs, gatewayEnvs, routeEnvs []config.Environment
	for _, e := range envs {
		switch {
		case e.Ingress.Exposure.Ingress():
			ingressEnvs = append(ingressEnvs, e)
		case e.Ingress.Exposure.Route():
			routeEnvs = append(routeEnvs, e)
		default:
			gatewayEnvs = append(gatewayEnvs, e)
		}
	}
	// The controllers users need: ingress-nginx for an Ingress, Envoy
	// Gateway for a Gateway of its class eg; cert-manager's Gateway API
	// support for a Gateway of any class.
	anyIngress, anyGateway, anyEnvoy := false, false, false
	for _, e := range users {
		anyIngress = anyIngress || e.Ingress.Exposure.Ingress()
		anyGateway = anyGateway || e.Ingress.Exposure.Gateway()
		anyEnvoy = anyEnvoy || (e.Ingress.Exposure.Gateway() && e.Ingress.Gateway.ClassName == config.EnvoyGatewayClass)
	}
	gateway := anyEnvoy && in.EnvoyGateway.On()
	certManager := map[string]any{"crds": map[string]any{"enabled": true, "keep": true}}
	var certManagerAfter []string
	if anyGateway {
		// cert-manager issues a Gateway's certificates only with its
		// Gateway API support on, which needs the Gateway API CRDs when
		// the controller starts.
		certManager["config"] = map[string]any{
			"apiVersion":       "controller.config.cert-manager.io/v1alpha1",
			"kind":             "ControllerConfiguration",
			"enableGatewayAPI": true,
		}
		if gateway {
			certManagerAfter = []string{gatewayCRDsChart}
		}
	}
	charts := []chart{
		{
			file: "envoy-gateway.yaml", repoName: "envoyproxy", repoURL: "oci://docker.io/envoyproxy", repoType: sourcev1.HelmRepositoryTypeOCI,
			chart: gatewayCRDsChart, release: "gateway-crds", namespace: string(e.Ingress.Gateway.DataPlaneNamespace),
			// The standard channel only: the experimental one's CRDs may
			// change incompatibly between releases.
			values: map[string]any{"crds": map[string]any{
				"gatewayAPI":   map[string]any{"enabled": true, "channel": "standard"},
				"envoyGateway": map[string]any{"enabled": true},
			}},
			spec: in.EnvoyGateway,
			skip: !gateway,
			// The chart's CRDs are templates, which `helm uninstall`
			// deletes with every Gateway and route of the cluster: when no
			// environment uses a Gateway any more, the release stays
			// (cert-manager's CRDs are kept by its crds.keep).
			keep: true,
		},
		{
			file: "envoy-gateway.yaml", repoName: "envoyproxy", repoURL: "oci://docker.io/envoyproxy", repoType: sourcev1.HelmRepositoryTypeOCI,
			chart: "gateway-helm", release: "envoy-gateway", namespace: string(e.Ingress.Gateway.DataPlaneNamespace),
			values:    map[string]any{"crds": map[string]any{"enabled": false}}, // gateway-crds-helm's
			spec:      in.EnvoyGateway,
			dependsOn: []string{gatewayCRDsChart},
			skip:      !gateway,
		},
		{
			file: "cert-manager.yaml", repoName: "jetstack", repoURL: "https://charts.jetstack.io", chart: "cert-manager",
			release: "cert-manager", namespace: config.CertManagerNamespace,
			values:    certManager,
			spec:      in.CertManager,
			dependsOn: certManagerAfter,
		},
		{
			file: "ingress-nginx.yaml", repoName: "ingress-nginx", repoURL: "https://kubernetes.github.io/ingress-nginx", chart: "ingress-nginx",
			release: "ingress-nginx", namespace: string(e.Ingress.ControllerNamespace),
			values: map[string]any{"controller": map[string]any{
				"ingressClassResource": map[string]any{"name": string(e.Ingress.ClassName), "controllerValue": "k8s.io/ingress-nginx"},
				"ingressClass":         string(e.Ingress.ClassName),
				// Snippets run arbitrary nginx configuration from any Ingress
				// (CVE-2021-25742, CVE-2025-1974): the platform needs none.
				"allowSnippetAnnotations": false,
				"podLabels":               e.Ingress.ControllerLabels,
				// The controller-wide halves of "no hop limits a transfer's
				// duration, each gives up after the same silence" (the
				// proxy timeouts are annotations of each Ingress): reading
				// a request body (client-body-timeout, 60 s by default) and
				// writing a response to the client (nginx's send_timeout,
				// 60 s, for which ingress-nginx has no key: an http-snippet
				// of this ConfigMap, written here, never by an Ingress).
				// client-header-timeout stays at 60 s: headers are not a
				// transfer, and a longer wait only helps slow-header attacks.
				"config": map[string]string{
					"client-body-timeout": idle,
					"http-snippet":        "send_timeout " + idle + "s;",
				},
			}},
			spec: in.IngressNginx,
			skip: !anyIngress,
		},
		{
			file: "sealed-secrets.yaml", repoName: "sealed-secrets", repoURL: "https://bitnami-labs.github.io/sealed-secrets", chart: "sealed-secrets",
			// kubeseal and `platformctl secrets` find the controller by its
			// Service name, which the chart derives from fullnameOverride.
			release: string(e.Sealing.ControllerName), namespace: string(e.Sealing.ControllerNamespace),
			values: map[string]any{"fullnameOverride": string(e.Sealing.ControllerName)},
			spec:   in.SealedSecrets,
		},
	}
	var out InfrastructureFiles
	repos := map[string]bool{}
	for _, c := range charts {
		if !c.spec.On() || c.skip {
			continue
		}
		objs, err := c.objects(p)
		if err != nil {
			return out, err
		}
		if repos[c.repoName] { // charts of one repository share it
			objs = objs[1:]
		}
		repos[c.repoName] = true
		if n := len(out.Controllers); n > 0 && out.Controllers[n-1].Name == c.file {
			out.Controllers[n-1].Objects = append(out.Controllers[n-1].Objects, objs...)
		} else {
			out.Controllers = append(out.Controllers, File{Name: c.file, Objects: objs})
		}
	}
	var issuers []any
	names := make([]string, 0, len(in.ACME.Servers))
	for n := range in.ACME.Servers {
		names = append(names, n)
	}
	sort.Strings(names)
	var solvers []ACMESolverV1
	for _, g := range gatewayEnvs {
		// The challenge for the host is answered through the
		// environment's own Gateway, on its HTTP listener.
		section := gwapiv1.SectionName("http")
		ns := gwapiv1.Namespace(g.Namespace)
		solvers = append(solvers, ACMESolverV1{
			Selector: &CertificateDNSNameSelector{DNSNames: []string{string(g.Host)}},
			HTTP01: HTTP01Solver{GatewayHTTPRoute: &HTTP01GatewayHTTPRoute{ParentRefs: []gwapiv1.ParentReference{{
				Name: invenio.ExposureName, Namespace: &ns, SectionName: &section,
			}}}},
		})
	}
	if len(routeEnvs) > 0 {
		var hosts []string
		for _, r := range routeEnvs {
			hosts = append(hosts, string(r.Host))
		}
		solvers = append(solvers, ACMESolverV1{
			Selector: &CertificateDNSNameSelector{DNSNames: hosts},
			HTTP01:   HTTP01Solver{Ingress: &HTTP01Ingress{IngressClassName: OpenShiftIngressClass}},
		})
	}
	if len(ingressEnvs) > 0 {
		solvers = append(solvers, ACMESolverV1{HTTP01: HTTP01Solver{Ingress: &HTTP01Ingress{IngressClassName: string(ingressEnvs[0].Ingress.ClassName)}}})
	}
	for _, n := range names {
		issuers = append(issuers, clusterIssuer(p, n, string(in.ACME.Servers[n]), solvers))
	}
	out.Configs = []File{{Name: "cluster-issuers.yaml", Objects: issuers}}
	if gateway {
		out.Configs = append([]File{{Name: "gateway-class.yaml", Objects: []any{&gwapiv1.GatewayClass{
			TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "GatewayClass"},
			ObjectMeta: objectMeta(p, config.EnvoyGatewayClass, ""),
			Spec:       gwapiv1.GatewayClassSpec{ControllerName: envoyGatewayController},
		}}}}, out.Configs...)
	}
	return out, nil
}

// gatewayCRDsChart is Envoy Gateway's chart of the Gateway API and Envoy
// Gateway CRDs, and the name of its HelmRelease.
const gatewayCRDsChart = "gateway-crds-helm"

// envoyGatewayController is the controllerName Envoy Gateway serves
// GatewayClasses of (its default EnvoyGateway configuration).
const envoyGatewayController = "gateway.envoyproxy.io/gatewayclass-controller"

// longestIdleTimeout is the longest ingress.idleTimeout of envs, in
// seconds: the cluster's one ingress controller must not give up before
// any environment behind it would.
func longestIdleTimeout(envs []config.Environment) int64 {
	var longest int64
	for _, e := range envs {
		longest = max(longest, e.Ingress.IdleTimeout.Seconds())
	}
	return longest
}

func (c chart) objects(p *config.Platform) ([]any, error) {
	ns := string(p.GitOps.Namespace)
	repo := &sourcev1.HelmRepository{
		TypeMeta:   metav1.TypeMeta{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmRepositoryKind},
		ObjectMeta: objectMeta(p, c.repoName, ns),
		Spec: sourcev1.HelmRepositorySpec{
			URL:      c.repoURL,
			Type:     c.repoType,
			Interval: metav1.Duration{Duration: 24 * time.Hour}, // a chart index changes rarely; versions are pinned
		},
	}
	values, err := json.Marshal(c.values)
	if err != nil {
		return nil, fmt.Errorf("%s values: %w", c.release, err)
	}
	retries := 3
	remediateLast := true
	rel := &helmv2.HelmRelease{
		TypeMeta:   metav1.TypeMeta{APIVersion: helmv2.GroupVersion.String(), Kind: helmv2.HelmReleaseKind},
		ObjectMeta: objectMeta(p, c.chart, ns),
		Spec: helmv2.HelmReleaseSpec{
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart:     c.chart,
				Version:   string(c.spec.Version),
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: c.repoName},
			}},
			Interval:        duration(p.GitOps.Interval),
			ReleaseName:     c.release,
			TargetNamespace: c.namespace,
			Install: &helmv2.Install{
				CreateNamespace: true,
				CRDs:            helmv2.CreateReplace,
				Remediation:     &helmv2.InstallRemediation{Retries: retries},
			},
			Upgrade: &helmv2.Upgrade{
				CRDs:        helmv2.CreateReplace,
				Remediation: &helmv2.UpgradeRemediation{Retries: retries, RemediateLastFailure: &remediateLast},
			},
			Values: &apiextensionsv1.JSON{Raw: values},
		},
	}
	if c.keep {
		rel.Annotations = map[string]string{"kustomize.toolkit.fluxcd.io/prune": "disabled"}
	}
	for _, d := range c.dependsOn {
		rel.Spec.DependsOn = append(rel.Spec.DependsOn, helmv2.DependencyReference{Name: d})
	}
	return []any{repo, rel}, nil
}

// OpenShiftIngressClass is the IngressClass of OpenShift's default router
// (made by its ingress operator, OpenShift 4.8 and later): an Ingress of
// it becomes a Route the router serves.
const OpenShiftIngressClass = "openshift-default"

// ClusterIssuer is cert-manager's cert-manager.io/v1 ClusterIssuer, reduced
// to the ACME fields the platform sets (the tests validate it against
// cert-manager's own CRD schema).
type ClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              IssuerSpec `json:"spec"`
}

// IssuerSpec is an ACME issuer.
type IssuerSpec struct {
	ACME ACMEIssuer `json:"acme"`
}

// ACMEIssuer is an ACME account and how it answers challenges.
type ACMEIssuer struct {
	Email               string         `json:"email"`
	Server              string         `json:"server"`
	PrivateKeySecretRef SecretKeyRef   `json:"privateKeySecretRef"`
	Solvers             []ACMESolverV1 `json:"solvers"`
}

// SecretKeyRef names the Secret holding the ACME account key.
type SecretKeyRef struct {
	Name string `json:"name"`
}

// ACMESolverV1 answers HTTP-01 challenges through the ingress controller
// or a Gateway, for the certificates its selector picks (all when nil).
type ACMESolverV1 struct {
	Selector *CertificateDNSNameSelector `json:"selector,omitempty"`
	HTTP01   HTTP01Solver                `json:"http01"`
}

// CertificateDNSNameSelector picks the certificates for these names.
type CertificateDNSNameSelector struct {
	DNSNames []string `json:"dnsNames"`
}

// HTTP01Solver routes the challenge through an IngressClass, or through
// an HTTPRoute cert-manager attaches to the Gateways of parentRefs.
type HTTP01Solver struct {
	Ingress          *HTTP01Ingress          `json:"ingress,omitempty"`
	GatewayHTTPRoute *HTTP01GatewayHTTPRoute `json:"gatewayHTTPRoute,omitempty"`
}

// HTTP01GatewayHTTPRoute is the Gateway listeners the solver's HTTPRoute
// attaches to.
type HTTP01GatewayHTTPRoute struct {
	ParentRefs []gwapiv1.ParentReference `json:"parentRefs"`
}

// HTTP01Ingress is the class of the solver's Ingress.
type HTTP01Ingress struct {
	IngressClassName string `json:"ingressClassName"`
}

func clusterIssuer(p *config.Platform, name, server string, solvers []ACMESolverV1) *ClusterIssuer {
	return &ClusterIssuer{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cert-manager.io/v1", Kind: "ClusterIssuer"},
		ObjectMeta: objectMeta(p, name, ""),
		Spec: IssuerSpec{ACME: ACMEIssuer{
			Email:               string(p.Infrastructure.ACME.Email),
			Server:              server,
			PrivateKeySecretRef: SecretKeyRef{Name: name + "-account-key"},
			Solvers:             solvers,
		}},
	}
}
