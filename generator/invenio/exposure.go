package invenio

import (
	"fmt"
	"maps"
	"slices"

	egv1a1 "github.com/envoyproxy/gateway/api/v1alpha1"
	routev1 "github.com/openshift/api/route/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// The exposures (ingress.exposure), each an optional component: an
// environment has exactly one of them, and switching exposure removes the
// other's objects (they leave its overlay, Flux prunes them).
const (
	Ingress = "ingress"
	Gateway = "gateway"
	Route   = "route"
	// RouteTLS is the certificate of a Route and the router's access to
	// it, one layer before the Route (see route).
	RouteTLS = "route-tls"
)

// ExposureName is the name of the Ingress, the Gateway and its main
// HTTPRoute, and tlsSecret the Secret cert-manager writes the host's
// certificate into, whichever the exposure.
const (
	ExposureName = "invenio"
	tlsSecret    = "invenio-tls"
)

// frontendPort is the frontend Service's port the edge sends traffic to.
const frontendPort = 8080

// ingress exposes the frontend on the environment's host over TLS with a
// certificate from cert-manager, through the ingress controller of
// ingress.className (ingress-nginx: its annotations).
func (x env) ingress() *component.Component {
	c := &component.Component{Name: Ingress, Role: "exposure", Layer: component.LayerApp, Optional: true}
	host := string(x.e.Host)
	class := string(x.e.Ingress.ClassName)
	prefix := networkingv1.PathTypePrefix
	body := nginxSize(x.e.Ingress.MaxUploadSize.Value())
	ing := &networkingv1.Ingress{
		TypeMeta:   x.typeMeta("Ingress"),
		ObjectMeta: x.meta.ObjectMeta(c, ExposureName),
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: tlsSecret}},
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
					Service: &networkingv1.IngressServiceBackend{Name: Frontend, Port: networkingv1.ServiceBackendPort{Name: "http"}}}}},
			}}}},
		},
	}
	idle := fmt.Sprint(x.e.Ingress.IdleTimeout.Seconds())
	// The controller's own client-body-timeout and send_timeout are
	// controller settings (flux.Infrastructure); these are per Ingress.
	ing.Annotations = map[string]string{
		"cert-manager.io/cluster-issuer":                      string(x.e.Ingress.ClusterIssuer),
		"nginx.ingress.kubernetes.io/ssl-redirect":            "true",
		"nginx.ingress.kubernetes.io/force-ssl-redirect":      "true",
		"nginx.ingress.kubernetes.io/proxy-body-size":         body,
		"nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
		"nginx.ingress.kubernetes.io/proxy-read-timeout":      idle,
		"nginx.ingress.kubernetes.io/proxy-send-timeout":      idle,
	}
	// The description's own (for another controller, or to change one of
	// the above) win.
	maps.Copy(ing.Annotations, x.e.Ingress.Annotations)
	c.Objects = []component.Object{ing}
	return c
}

// gateway exposes the frontend through Gateway API: a Gateway of
// ingress.gateway.className with an HTTPS listener for the host (its
// certificate issued by cert-manager from the Gateway's annotation) and an
// HTTP listener whose only route redirects to HTTPS (cert-manager's
// HTTP-01 solver attaches its own, more specific route there while it
// answers a challenge); an HTTPRoute to the frontend; and, for Envoy
// Gateway, the ClientTrafficPolicy that gives its proxies the idle
// timeout of every other hop.
//
// The upload promise through Envoy: the proxy streams request and response
// bodies (no buffering, so no body limit of its own: the frontend's
// client_max_body_size enforces ingress.maxUploadSize, as it does behind
// an Ingress); the HTTPRoute's request timeout is disabled ("0s", Gateway
// API's own value for none) instead of Envoy's 15 s route default; and a
// stream is given up only after ingress.idleTimeout without a byte moving
// (Envoy's stream idle timeout, 5 minutes by default).
func (x env) gateway() *component.Component {
	c := &component.Component{Name: Gateway, Role: "exposure", Layer: component.LayerApp, Optional: true}
	host := gwapiv1.Hostname(x.e.Host)
	same := gwapiv1.NamespacesFromSame
	https, http := gwapiv1.SectionName("https"), gwapiv1.SectionName("http")
	gw := &gwapiv1.Gateway{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "Gateway"},
		ObjectMeta: x.meta.ObjectMeta(c, ExposureName),
		Spec: gwapiv1.GatewaySpec{
			GatewayClassName: gwapiv1.ObjectName(x.e.Ingress.Gateway.ClassName),
			Listeners: []gwapiv1.Listener{
				{
					Name: https, Hostname: &host, Port: 443, Protocol: gwapiv1.HTTPSProtocolType,
					TLS: &gwapiv1.ListenerTLSConfig{
						Mode:            ptr(gwapiv1.TLSModeTerminate),
						CertificateRefs: []gwapiv1.SecretObjectReference{{Name: tlsSecret}},
					},
					AllowedRoutes: &gwapiv1.AllowedRoutes{Namespaces: &gwapiv1.RouteNamespaces{From: &same}},
				},
				{
					Name: http, Hostname: &host, Port: 80, Protocol: gwapiv1.HTTPProtocolType,
					AllowedRoutes: &gwapiv1.AllowedRoutes{Namespaces: &gwapiv1.RouteNamespaces{From: &same}},
				},
			},
		},
	}
	gw.Annotations = map[string]string{"cert-manager.io/cluster-issuer": string(x.e.Ingress.ClusterIssuer)}
	parent := func(section gwapiv1.SectionName) []gwapiv1.ParentReference {
		return []gwapiv1.ParentReference{{Name: ExposureName, SectionName: &section}}
	}
	noTimeout := gwapiv1.Duration("0s")
	route := &gwapiv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: x.meta.ObjectMeta(c, ExposureName),
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: parent(https)},
			Hostnames:       []gwapiv1.Hostname{host},
			Rules: []gwapiv1.HTTPRouteRule{{
				BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{
					Name: Frontend, Port: ptr(gwapiv1.PortNumber(frontendPort)),
				}}}},
				Timeouts: &gwapiv1.HTTPRouteTimeouts{Request: &noTimeout},
			}},
		},
	}
	redirect := &gwapiv1.HTTPRoute{
		TypeMeta:   metav1.TypeMeta{APIVersion: gwapiv1.GroupVersion.String(), Kind: "HTTPRoute"},
		ObjectMeta: x.meta.ObjectMeta(c, ExposureName+"-redirect"),
		Spec: gwapiv1.HTTPRouteSpec{
			CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: parent(http)},
			Hostnames:       []gwapiv1.Hostname{host},
			Rules: []gwapiv1.HTTPRouteRule{{
				Filters: []gwapiv1.HTTPRouteFilter{{
					Type:            gwapiv1.HTTPRouteFilterRequestRedirect,
					RequestRedirect: &gwapiv1.HTTPRequestRedirectFilter{Scheme: ptr("https"), StatusCode: ptr(301)},
				}},
			}},
		},
	}
	c.Objects = []component.Object{gw, route, redirect}
	if x.e.Ingress.Gateway.ClassName == config.EnvoyGatewayClass {
		idle := gwapiv1.Duration(fmt.Sprintf("%ds", x.e.Ingress.IdleTimeout.Seconds()))
		ctp := &egv1a1.ClientTrafficPolicy{
			TypeMeta:   metav1.TypeMeta{APIVersion: egv1a1.GroupVersion.String(), Kind: egv1a1.KindClientTrafficPolicy},
			ObjectMeta: x.meta.ObjectMeta(c, ExposureName),
			Spec: egv1a1.ClientTrafficPolicySpec{
				PolicyTargetReferences: egv1a1.PolicyTargetReferences{TargetRefs: []gwapiv1.LocalPolicyTargetReferenceWithSectionName{{
					LocalPolicyTargetReference: gwapiv1.LocalPolicyTargetReference{Group: gwapiv1.GroupName, Kind: "Gateway", Name: ExposureName},
				}}},
				Timeout: &egv1a1.ClientTimeout{HTTP: &egv1a1.HTTPClientTimeout{StreamIdleTimeout: &idle}},
			},
		}
		c.Objects = append(c.Objects, ctp)
	}
	return c
}

// route exposes the frontend through the OpenShift router: a Route with
// edge TLS (the router terminates it with the certificate in tlsSecret,
// read through spec.tls.externalCertificate, and redirects plain HTTP to
// HTTPS). Its certificate and the router's access to it are routeTLS's,
// in the data layer: OpenShift's API server refuses a Route (and Flux's
// dry run of it) whose external certificate Secret does not exist or that
// the router cannot read, so they must be Ready before the app layer is
// applied.
//
// The upload promise through HAProxy: the router streams bodies and sets
// no body limit (the frontend's client_max_body_size enforces
// ingress.maxUploadSize); its server-side timeout, 30 s by default, is the
// silence it waits for the frontend, so the Route's timeout annotation
// sets it to ingress.idleTimeout. The client-side timeout is the
// IngressController's (tuningOptions.clientTimeout), a cluster setting
// (docs/exposure.md).
func (x env) route() *component.Component {
	c := &component.Component{Name: Route, Role: "exposure", Layer: component.LayerApp, Optional: true}
	rt := &routev1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: routev1.GroupVersion.String(), Kind: "Route"},
		ObjectMeta: x.meta.ObjectMeta(c, ExposureName),
		Spec: routev1.RouteSpec{
			Host: string(x.e.Host),
			To:   routev1.RouteTargetReference{Kind: "Service", Name: Frontend, Weight: ptr(int32(100))},
			Port: &routev1.RoutePort{TargetPort: intstr.FromString("http")},
			TLS: &routev1.TLSConfig{
				Termination:                   routev1.TLSTerminationEdge,
				InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect,
				ExternalCertificate:           &routev1.LocalObjectReference{Name: tlsSecret},
			},
			WildcardPolicy: routev1.WildcardPolicyNone,
		},
	}
	rt.Annotations = map[string]string{"haproxy.router.openshift.io/timeout": fmt.Sprintf("%ds", x.e.Ingress.IdleTimeout.Seconds())}
	c.Objects = []component.Object{rt}
	return c
}

// routeTLS is the cert-manager Certificate that fills tlsSecret (no shim
// issues one for a Route) and the Role that lets the router read that one
// Secret (OpenShift: "Creating a route with externally managed
// certificate"). The data layer waits for the Certificate to be Ready.
func (x env) routeTLS() *component.Component {
	c := &component.Component{Name: RouteTLS, Role: "exposure", Layer: component.LayerData, Optional: true}
	cert := &Certificate{
		TypeMeta:   metav1.TypeMeta{APIVersion: "cert-manager.io/v1", Kind: "Certificate"},
		ObjectMeta: x.meta.ObjectMeta(c, tlsSecret),
		Spec: CertificateSpec{
			SecretName: tlsSecret,
			DNSNames:   []string{string(x.e.Host)},
			IssuerRef:  IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: string(x.e.Ingress.ClusterIssuer)},
		},
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: x.meta.ObjectMeta(c, routerSecretReader),
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{tlsSecret},
			Verbs: []string{"get", "list", "watch"},
		}},
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: x.meta.ObjectMeta(c, routerSecretReader),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: routerSecretReader},
		Subjects: []rbacv1.Subject{{
			Kind: rbacv1.ServiceAccountKind, Name: routerServiceAccount, Namespace: config.OpenShiftRouterNamespace,
		}},
	}
	c.Objects = []component.Object{cert, role, binding}
	return c
}

// routerServiceAccount is the service account of OpenShift's router (in
// config.OpenShiftRouterNamespace; OpenShift's API server checks that
// this account may read a Route's external certificate), and
// routerSecretReader the Role and RoleBinding that let it.
const (
	routerServiceAccount = "router"
	routerSecretReader   = "router-reads-invenio-tls"
)

// Certificate is cert-manager's cert-manager.io/v1 Certificate, reduced to
// the fields the platform sets (TestExposures validates it against
// cert-manager's CRD).
type Certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CertificateSpec `json:"spec"`
}

// CertificateSpec is the Secret the certificate is written to, its names
// and the issuer that signs it.
type CertificateSpec struct {
	SecretName string          `json:"secretName"`
	DNSNames   []string        `json:"dnsNames"`
	IssuerRef  IssuerReference `json:"issuerRef"`
}

// IssuerReference names an Issuer or ClusterIssuer.
type IssuerReference struct {
	Group string `json:"group"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
}

// DeepCopyObject implements runtime.Object.
func (c *Certificate) DeepCopyObject() runtime.Object {
	out := *c
	c.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.DNSNames = slices.Clone(c.Spec.DNSNames)
	return &out
}
