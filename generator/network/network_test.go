package network_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	networkingv1 "k8s.io/api/networking/v1"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/network"
	"lbl.gov/invenio-gitops/internal/testrepo"
)

// allowed reads back, from the derived NetworkPolicies alone, which
// component may reach which component port: ingress rules on the server
// and egress rules on the client must both allow a flow for it to count.
func allowed(cs []*component.Component) []string {
	bySelector := map[string]string{} // "name" label → component
	for _, c := range cs {
		bySelector[c.Name] = c.Name
	}
	in := map[string]bool{}  // from → to:port allowed by the server side
	out := map[string]bool{} // from → to:port allowed by the client side
	for _, c := range cs {
		for _, o := range c.Objects {
			np, ok := o.(*networkingv1.NetworkPolicy)
			if !ok || len(np.Spec.PodSelector.MatchLabels) == 0 {
				continue
			}
			self := np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"]
			for _, r := range np.Spec.Ingress {
				for _, f := range r.From {
					if f.PodSelector == nil || f.NamespaceSelector != nil {
						continue
					}
					for _, p := range r.Ports {
						in[fmt.Sprintf("%s → %s:%d", f.PodSelector.MatchLabels["app.kubernetes.io/name"], self, p.Port.IntVal)] = true
					}
				}
			}
			for _, r := range np.Spec.Egress {
				for _, t := range r.To {
					if t.PodSelector == nil || t.NamespaceSelector != nil {
						continue
					}
					for _, p := range r.Ports {
						out[fmt.Sprintf("%s → %s:%d", self, t.PodSelector.MatchLabels["app.kubernetes.io/name"], p.Port.IntVal)] = true
					}
				}
			}
		}
	}
	var both []string
	for k := range in {
		if out[k] {
			both = append(both, k)
		}
	}
	sort.Strings(both)
	return both
}

// TestPoliciesAllowExactlyTheFlows derives policies for every environment
// and checks that the in-namespace connections they allow are exactly the
// declared calls.
func TestPoliciesAllowExactlyTheFlows(t *testing.T) {
	p, err := config.Load(testrepo.Platform)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		t.Run(string(e.Name), func(t *testing.T) {
			cs, err := generator.Components(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, f := range network.Flows(cs) {
				if f.From == network.IngressController || f.From == network.Prometheus || f.To == network.KubeDNS || f.To == network.Outside {
					continue
				}
				want = append(want, fmt.Sprintf("%s → %s:%d", f.From, f.To, f.Port))
			}
			sort.Strings(want)
			if d := cmp.Diff(want, allowed(cs)); d != "" {
				t.Errorf("policies and declared flows disagree (-flows +policies):\n%s", d)
			}
		})
	}
}

// TestDeriveRejectsBadCalls: a call to a missing component or port is an
// error, not a silently open or closed flow.
func TestDeriveRejectsBadCalls(t *testing.T) {
	srv := &component.Component{Name: "db", HasPods: true, Layer: component.LayerData, Serves: []component.Port{{Name: "sql", Port: 5432}}}
	for _, tc := range []struct {
		name string
		call component.Call
		want string
	}{
		{"unknown component", component.Call{To: "nope", Port: "sql"}, "app calls nope, which is not part of this environment"},
		{"unknown port", component.Call{To: "db", Port: "http"}, `app calls port "http" of db, which it does not serve`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := &component.Component{Name: "app", HasPods: true, Layer: component.LayerApp, Calls: []component.Call{tc.call}}
			err := network.Derive(component.Meta{Instance: "x"}, network.Options{}, []*component.Component{srv, app})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestOptionalCallerBringsItsOwnAllowance: switching an optional caller on
// adds a policy in its own component and leaves the server's untouched.
func TestOptionalCallerBringsItsOwnAllowance(t *testing.T) {
	mk := func(withOptional bool) []*component.Component {
		srv := &component.Component{Name: "db", HasPods: true, Layer: component.LayerData, Serves: []component.Port{{Name: "sql", Port: 5432}}}
		cs := []*component.Component{srv}
		if withOptional {
			cs = append(cs, &component.Component{Name: "admin", HasPods: true, Optional: true, Layer: component.LayerApp, Calls: []component.Call{{To: "db", Port: "sql"}}})
		}
		if err := network.Derive(component.Meta{Instance: "x"}, network.Options{}, cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	without, with := mk(false), mk(true)
	if d := cmp.Diff(without[0].Objects, with[0].Objects); d != "" {
		t.Errorf("the server's objects changed when the optional caller was switched on:\n%s", d)
	}
	var names []string
	for _, o := range with[1].Objects {
		if np, ok := o.(*networkingv1.NetworkPolicy); ok {
			names = append(names, np.Name)
		}
	}
	if d := cmp.Diff([]string{"admin", "db-from-admin"}, names); d != "" {
		t.Errorf("policies of the optional caller (-want +got):\n%s", d)
	}
}

// scrapes lists, as "component:port", the declared metrics ports, the
// ports the NetworkPolicies let Prometheus (namespace and pod labels of
// prom) reach, and the prometheus rows of the flow table.
func scrapes(cs []*component.Component, prom network.Peer) (declared, policies, flows []string) {
	for _, c := range cs {
		for _, m := range c.Metrics {
			port, _ := c.Port(m.Port)
			declared = append(declared, fmt.Sprintf("%s:%d", c.Name, port.Port))
		}
		for _, o := range c.Objects {
			np, ok := o.(*networkingv1.NetworkPolicy)
			if !ok {
				continue
			}
			for _, r := range np.Spec.Ingress {
				for _, f := range r.From {
					if f.NamespaceSelector == nil || f.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != prom.Namespace ||
						f.PodSelector == nil || !cmp.Equal(prom.Labels, f.PodSelector.MatchLabels) {
						continue
					}
					for _, pp := range r.Ports {
						policies = append(policies, fmt.Sprintf("%s:%d", np.Spec.PodSelector.MatchLabels["app.kubernetes.io/name"], pp.Port.IntVal))
					}
				}
			}
		}
	}
	for _, f := range network.Flows(cs) {
		if f.From == network.Prometheus {
			flows = append(flows, fmt.Sprintf("%s:%d", f.To, f.Port))
		}
	}
	sort.Strings(declared)
	sort.Strings(policies)
	sort.Strings(flows)
	return declared, policies, flows
}

// TestPrometheusMayScrapeExactlyTheMetricsPorts: in every environment, the
// NetworkPolicies let Prometheus (its namespace and pod labels) in on
// exactly the ports components declare as metrics, and the flow table
// lists exactly those.
func TestPrometheusMayScrapeExactlyTheMetricsPorts(t *testing.T) {
	p, err := config.Load(testrepo.Platform)
	if err != nil {
		t.Fatal(err)
	}
	monitored := 0
	for _, e := range p.Environments {
		t.Run(string(e.Name), func(t *testing.T) {
			cs, err := generator.Components(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			declared, policies, flows := scrapes(cs, network.Peer{Namespace: string(e.Monitoring.PrometheusNamespace), Labels: e.Monitoring.PrometheusLabels})
			if d := cmp.Diff(declared, policies); d != "" {
				t.Errorf("metrics ports and Prometheus ingress rules disagree (-declared +policies):\n%s", d)
			}
			if d := cmp.Diff(declared, flows); d != "" {
				t.Errorf("metrics ports and the flow table disagree (-declared +flows):\n%s", d)
			}
			if e.Monitoring.Enabled != (len(declared) > 0) {
				t.Errorf("monitoring.enabled is %v but %d metrics endpoints are declared", e.Monitoring.Enabled, len(declared))
			}
			if len(declared) > 0 {
				monitored++
			}
		})
	}
	if monitored == 0 {
		t.Fatal("no environment is monitored: the test would pass vacuously")
	}
}

// TestScrapesSeesMissingRules: the comparison above notices a policy that
// lacks the Prometheus rule, and one that admits other pods.
func TestScrapesSeesMissingRules(t *testing.T) {
	prom := network.Peer{Namespace: "monitoring", Labels: map[string]string{"app": "prometheus"}}
	mk := func() []*component.Component {
		c := &component.Component{Name: "exp", HasPods: true, Layer: component.LayerData,
			Serves: []component.Port{{Name: "metrics", Port: 9187}}, Metrics: []component.Metrics{{Port: "metrics", Path: "/metrics"}}}
		cs := []*component.Component{c}
		if err := network.Derive(component.Meta{Instance: "x"}, network.Options{Prometheus: &prom}, cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	declared, policies, _ := scrapes(mk(), prom)
	if d := cmp.Diff([]string{"exp:9187"}, declared); d != "" || !cmp.Equal(declared, policies) {
		t.Fatalf("derived policy does not admit Prometheus: declared %v, policies %v", declared, policies)
	}
	cs := mk()
	for _, o := range cs[0].Objects {
		if np, ok := o.(*networkingv1.NetworkPolicy); ok {
			np.Spec.Ingress = nil
		}
	}
	if _, policies, _ := scrapes(cs, prom); len(policies) != 0 {
		t.Errorf("a policy without ingress rules still counts as admitting Prometheus: %v", policies)
	}
	other := network.Peer{Namespace: "monitoring", Labels: map[string]string{"app": "grafana"}}
	if _, policies, _ := scrapes(mk(), other); len(policies) != 0 {
		t.Errorf("a rule for Prometheus' labels counts for other pods: %v", policies)
	}
}

// TestDeriveRejectsBadMetrics: metrics on a port the component does not
// serve, or with no Prometheus to scrape them, are errors.
func TestDeriveRejectsBadMetrics(t *testing.T) {
	prom := &network.Peer{Namespace: "monitoring", Labels: map[string]string{"app": "prometheus"}}
	for _, tc := range []struct {
		name string
		m    component.Metrics
		prom *network.Peer
		want string
	}{
		{"unknown port", component.Metrics{Port: "metrics", Path: "/metrics"}, prom, `db declares metrics on port "metrics", which it does not serve`},
		{"no prometheus", component.Metrics{Port: "sql", Path: "/metrics"}, nil, "db declares metrics, but the environment names no Prometheus to scrape them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &component.Component{Name: "db", HasPods: true, Layer: component.LayerData,
				Serves: []component.Port{{Name: "sql", Port: 5432}}, Metrics: []component.Metrics{tc.m}}
			err := network.Derive(component.Meta{Instance: "x"}, network.Options{Prometheus: tc.prom}, []*component.Component{srv})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
