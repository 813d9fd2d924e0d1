package review

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ExposureRunbook is the migration runbook between an Ingress and Gateway
// API, linked from the flag of a host that moves between them, and
// RouteRunbook the one for a host that moves to or from an OpenShift
// Route.
const (
	ExposureRunbook = "docs/exposure.md#from-ingress-nginx-to-gateway-api"
	RouteRunbook    = "docs/exposure.md#to-or-from-an-openshift-route"
)

// gatewayRule: what an Ingress change would be flagged for, in Gateway
// API and OpenShift Route terms. A Gateway's listeners opened or closed (protocol, port, host,
// certificate Secret) and its class and certificate issuer; an HTTPRoute's
// hosts exposed or no longer, the listeners it attaches to, the Services
// it sends traffic to, and a request timeout set.
func gatewayRule(p pair) []Flag {
	if p.id.Group == routev1.GroupName && p.id.Kind == "Route" {
		return routeFlags(p)
	}
	if p.id.Group != gwapiv1.GroupName {
		return nil
	}
	switch p.id.Kind {
	case "Gateway":
		return gatewayFlags(p)
	case "HTTPRoute":
		return httpRouteFlags(p)
	}
	return nil
}

func gatewayFlags(p pair) []Flag {
	listeners := func(d map[string]any) map[string]any {
		m := map[string]any{}
		if d == nil {
			return m
		}
		for _, l := range typed[gwapiv1.Gateway](d).Spec.Listeners {
			s := fmt.Sprintf("%s %s %d", l.Name, l.Protocol, l.Port)
			if l.Hostname != nil {
				s += " for " + string(*l.Hostname)
			}
			if l.TLS != nil {
				var secrets []string
				for _, r := range l.TLS.CertificateRefs {
					secrets = append(secrets, string(r.Name))
				}
				s += " (certificate in Secret " + orNone(strings.Join(secrets, ", ")) + ")"
			}
			m[s] = nil
		}
		return m
	}
	var out []Flag
	for _, l := range setDiff(listeners(p.old), listeners(p.new)) {
		out = append(out, newFlag(Ingress, "listener %s %s", l.item, l.verb("opened", "closed")))
	}
	if p.old != nil && p.new != nil {
		for _, f := range [][]string{{"spec", "gatewayClassName"}, {"metadata", "annotations", "cert-manager.io/cluster-issuer"}, {"metadata", "annotations", "cert-manager.io/issuer"}} {
			if o, n := str(p.old, f...), str(p.new, f...); o != n {
				out = append(out, newFlag(Ingress, "%s %s → %s", f[len(f)-1], orNone(o), orNone(n)))
			}
		}
	}
	return out
}

func httpRouteFlags(p pair) []Flag {
	type sets struct{ hosts, parents, backends, timeouts map[string]any }
	read := func(d map[string]any) sets {
		s := sets{map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}}
		if d == nil {
			return s
		}
		r := typed[gwapiv1.HTTPRoute](d)
		for _, h := range r.Spec.Hostnames {
			s.hosts[string(h)] = nil
		}
		for _, ref := range r.Spec.ParentRefs {
			name := "Gateway " + string(ref.Name)
			if ref.Namespace != nil {
				name = "Gateway " + string(*ref.Namespace) + "/" + string(ref.Name)
			}
			if ref.SectionName != nil {
				name += " listener " + string(*ref.SectionName)
			}
			s.parents[name] = nil
		}
		for _, rule := range r.Spec.Rules {
			for _, b := range rule.BackendRefs {
				name := "Service " + string(b.Name)
				if b.Port != nil {
					name += fmt.Sprintf(" port %d", *b.Port)
				}
				s.backends[name] = nil
			}
			for _, f := range rule.Filters {
				if f.RequestRedirect != nil {
					s.backends["a redirect"] = nil
				}
			}
			if t := rule.Timeouts; t != nil && t.Request != nil {
				s.timeouts["request timeout "+string(*t.Request)] = nil
			}
		}
		return s
	}
	o, n := read(p.old), read(p.new)
	var out []Flag
	for _, h := range setDiff(o.hosts, n.hosts) {
		out = append(out, newFlag(Ingress, "host %s %s", h.item, h.verb("exposed", "no longer exposed")))
	}
	for _, c := range setDiff(o.parents, n.parents) {
		out = append(out, newFlag(Ingress, "route %s %s", c.verb("attached to", "detached from"), c.item))
	}
	if p.old != nil && p.new != nil {
		for _, c := range setDiff(o.backends, n.backends) {
			out = append(out, newFlag(Ingress, "traffic %s %s", c.verb("now sent to", "no longer sent to"), c.item))
		}
		for _, c := range setDiff(o.timeouts, n.timeouts) {
			out = append(out, newFlag(Ingress, "%s %s", c.item, c.verb("set", "removed")))
		}
	}
	return out
}

// routeFlags: an OpenShift Route's host exposed or no longer, its TLS
// (termination, what plain HTTP gets, the certificate Secret) and the
// Service and port it sends traffic to, and its router timeout.
func routeFlags(p pair) []Flag {
	type facts struct{ host, tls, backend, timeout string }
	read := func(d map[string]any) facts {
		if d == nil {
			return facts{}
		}
		r := typed[routev1.Route](d)
		f := facts{host: r.Spec.Host, backend: string(r.Spec.To.Kind) + " " + r.Spec.To.Name, timeout: r.Annotations["haproxy.router.openshift.io/timeout"]}
		if r.Spec.Port != nil {
			f.backend += " port " + r.Spec.Port.TargetPort.String()
		}
		f.tls = "none (plain HTTP)"
		if t := r.Spec.TLS; t != nil {
			f.tls = fmt.Sprintf("%s, HTTP %s", t.Termination, orNone(string(t.InsecureEdgeTerminationPolicy)))
			if t.ExternalCertificate != nil {
				f.tls += ", certificate in Secret " + t.ExternalCertificate.Name
			}
		}
		return f
	}
	o, n := read(p.old), read(p.new)
	var out []Flag
	if o.host != n.host {
		if o.host != "" {
			out = append(out, newFlag(Ingress, "host %s no longer exposed", o.host))
		}
		if n.host != "" {
			out = append(out, newFlag(Ingress, "host %s exposed", n.host))
		}
	}
	if p.old != nil && p.new != nil {
		for _, c := range []struct{ what, o, n string }{{"TLS", o.tls, n.tls}, {"traffic sent to", o.backend, n.backend}, {"router timeout", o.timeout, n.timeout}} {
			if c.o != c.n {
				out = append(out, newFlag(Ingress, "%s %s → %s", c.what, orNone(c.o), orNone(c.n)))
			}
		}
	}
	return out
}

// exposureFlags: a host that an Ingress served in old and an HTTPRoute
// serves in new (or the other way round) is a migration of the edge, not
// two unrelated changes: one flag says so and links the runbook.
func exposureFlags(old, new Objects) []Flag {
	hosts := func(objs Objects) (ingress, gateway, route map[string]string) {
		ingress, gateway, route = map[string]string{}, map[string]string{}, map[string]string{}
		for id, o := range objs {
			switch {
			case id.Kind == "Route" && id.Group == routev1.GroupName:
				if h := typed[routev1.Route](o.Doc).Spec.Host; h != "" {
					route[h] = id.Namespace + "/" + id.Name
				}
			case id.Kind == "Ingress" && id.Group == networkingv1.GroupName:
				for _, r := range typed[networkingv1.Ingress](o.Doc).Spec.Rules {
					ingress[r.Host] = id.Namespace + "/" + id.Name
				}
			case id.Kind == "HTTPRoute" && id.Group == gwapiv1.GroupName:
				for _, h := range typed[gwapiv1.HTTPRoute](o.Doc).Spec.Hostnames {
					// The first route by name speaks for the host (a
					// redirect route sorts after the one it redirects to).
					name := id.Namespace + "/" + id.Name
					if prev, ok := gateway[string(h)]; !ok || name < prev {
						gateway[string(h)] = name
					}
				}
			}
		}
		return ingress, gateway, route
	}
	oi, og, or := hosts(old)
	ni, ng, nr := hosts(new)
	// moved lists the hosts served by from (and not by to) in old and by
	// to (and not by from) in new.
	moved := func(oFrom, oTo, nFrom, nTo map[string]string, format string, runbook string) []Flag {
		var out []Flag
		for _, h := range slices.Sorted(maps.Keys(oFrom)) {
			_, still := nFrom[h]
			_, before := oTo[h]
			if r, now := nTo[h]; now && !still && !before {
				f := newFlag(Ingress, format, h, oFrom[h], r, runbook)
				f.Runbook = runbook
				out = append(out, f)
			}
		}
		return out
	}
	out := moved(oi, og, ni, ng, "host %s moves from Ingress %s to Gateway API (HTTPRoute %s): a migration of the edge; follow %s (both side by side, DNS switched, then the Ingress removed)", ExposureRunbook)
	out = append(out, moved(og, oi, ng, ni, "host %s moves from Gateway API (HTTPRoute %s) back to Ingress %s: a migration of the edge; follow %s", ExposureRunbook)...)
	// A Route has no side by side: the host moves to another edge (the
	// OpenShift router, usually another cluster) in one step.
	const toRoute = "host %s moves from %s to OpenShift Route %s: the edge changes in one step, with no side-by-side exposure; follow %s (DNS TTL lowered first, the new edge checked before DNS moves)"
	const fromRoute = "host %s moves from OpenShift Route %s to %s: the edge changes in one step, with no side-by-side exposure; follow %s"
	label := func(m map[string]string, what string) map[string]string {
		out := map[string]string{}
		for h, n := range m {
			out[h] = what + " " + n
		}
		return out
	}
	oIn, oGw := label(oi, "Ingress"), label(og, "HTTPRoute")
	nIn, nGw := label(ni, "Ingress"), label(ng, "HTTPRoute")
	out = append(out, moved(oIn, or, nIn, nr, toRoute, RouteRunbook)...)
	out = append(out, moved(oGw, or, nGw, nr, toRoute, RouteRunbook)...)
	out = append(out, moved(or, oIn, nr, nIn, fromRoute, RouteRunbook)...)
	return append(out, moved(or, oGw, nr, nGw, fromRoute, RouteRunbook)...)
}
