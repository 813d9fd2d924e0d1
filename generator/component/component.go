// Package component owns the Component type — one part of the platform with
// the facts every derivation needs (ports, callers, layer, objects) — and the
// shared builders every part uses: labels, the restricted security context,
// resources, volumes.
//
// Services, NetworkPolicies, the secret inventory and the Flux layer of an
// object are derived from Components; nothing about a port or a caller is
// written twice.
package component

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Layer is a unit of reconciliation: each layer builds on its own
// (overlays/<env>/<layer>) and Flux applies them in this order.
type Layer string

// The layers, lowest first.
const (
	LayerNamespace Layer = "namespace" // Namespace and namespace-wide policies
	LayerData      Layer = "data"      // PostgreSQL, Redis, RabbitMQ, OpenSearch
	LayerApp       Layer = "app"       // InvenioRDM and everything that serves it
)

// Layers lists the layers in apply order.
var Layers = []Layer{LayerNamespace, LayerData, LayerApp}

// Object is what a component is made of: any Kubernetes object.
type Object interface {
	runtime.Object
	metav1.Object
}

// Port is a TCP port a component serves.
type Port struct {
	Name string
	Port int32
}

// Call is a connection a component opens to another component's port.
type Call struct {
	To   string // component name
	Port string // port name on that component
}

// External is a connection to something outside the cluster.
type External struct {
	Why   string // shown in the flow table
	CIDRs []string
	Port  int32
}

// Component is one part of the platform.
type Component struct {
	Name     string // app.kubernetes.io/name; also the name of its workload, Service, ServiceAccount and NetworkPolicy
	Role     string // app.kubernetes.io/component
	Version  string // app.kubernetes.io/version
	Layer    Layer
	Optional bool // a kustomize Component: each environment switches it on or off

	Serves   []Port     // ports other pods may reach (a ClusterIP Service is derived)
	Calls    []Call     // the connections it opens inside the namespace
	External []External // the connections it opens to the outside world
	// FromIngressController lets the ingress controller reach this port.
	FromIngressController string
	// Metrics are the served ports Prometheus scrapes, when the environment
	// is monitored: the NetworkPolicy lets Prometheus in on them and a
	// ServiceMonitor is derived for each (packages network and monitoring).
	Metrics []Metrics

	// HasPods is false for components that are only configuration.
	HasPods bool

	Objects []Object
}

// Metrics is a Prometheus endpoint on one of the component's served ports.
type Metrics struct {
	Port string // name of a port in Serves
	Path string // HTTP path, e.g. /metrics
}

// Port returns the named port, or false.
func (c *Component) Port(name string) (Port, bool) {
	for _, p := range c.Serves {
		if p.Name == name {
			return p, true
		}
	}
	return Port{}, false
}

// Index maps component names to components.
func Index(cs []*Component) map[string]*Component {
	m := make(map[string]*Component, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// Names returns the sorted component names.
func Names(cs []*Component) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	sort.Strings(n)
	return n
}
