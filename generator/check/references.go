package check

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// referencesChecks are the references family, in the order they run.
var referencesChecks = []Check{
	{ID: "service-selects-pods", Family: "references", Run: serviceSelectsPods,
		Rationale: "a Service that selects no pod, or a target port no pod has, routes nothing, silently",
		Upstream:  "kube-linter dangling-service"},
	{ID: "service-target-ports", Family: "references", Run: targetPortNames,
		Rationale: "a port name that is not an IANA service name is refused or never matched",
		Upstream:  "kube-linter invalid-target-ports"},
	{ID: "probe-ports", Family: "references", Run: probePorts,
		Rationale: "a probe on a port the container does not expose fails forever and restarts the pod",
		Upstream:  "kube-linter liveness-port, readiness-port, startup-port"},
	{ID: "configmap-references", Family: "references", Run: configMapReferences,
		Rationale: "a missing ConfigMap or key keeps the pod in CreateContainerConfigError",
		Upstream:  "ConfigMap references resolve"},
	{ID: "pvc-references", Family: "references", Run: pvcReferences,
		Rationale: "a missing claim keeps the pod Pending",
		Upstream:  "PVC references resolve"},
	{ID: "service-accounts", Family: "references", Run: serviceAccounts,
		Rationale: "a pod runs as its own ServiceAccount, which exists, without an API token it does not use",
		Upstream:  "kube-linter non-existent-service-account, deprecated-service-account-field; Polaris automountServiceAccountToken"},
	{ID: "mismatching-selector", Family: "references", Run: mismatchingSelector,
		Rationale: "a workload whose selector does not match its template is refused by the API server",
		Upstream:  "kube-linter mismatching-selector"},
	{ID: "route-references", Family: "references", Run: routeReferences,
		Rationale: "an HTTPRoute attached to no listener of a Gateway, or sending to a Service port that does not exist, serves nothing, silently",
		Upstream:  "Gateway API conditions Accepted and ResolvedRefs"},
	{ID: "operations-references", Family: "references", Run: operationsReferences,
		Rationale: "an autoscaler, budget or ServiceMonitor that names nothing of the build does nothing, silently",
		Upstream:  "HPA scaleTargetRef, PDB selector, ServiceMonitor selector and port resolve"},
}

// serviceSelectsPods: every Service selects a pod template (selector ⊆
// template labels), and every target port exists on every selected pod.
func serviceSelectsPods(b *Build) []Finding {
	var out []Finding
	for _, s := range b.Services {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if len(s.Spec.Selector) == 0 {
			out = append(out, Finding{refOf(s), "no selector"})
			continue
		}
		pods := selected(b, s.Namespace, labels.SelectorFromSet(s.Spec.Selector))
		if len(pods) == 0 {
			out = append(out, Finding{refOf(s), fmt.Sprintf("selector %v selects no pod template", s.Spec.Selector)})
		}
		for _, p := range pods {
			for _, sp := range s.Spec.Ports {
				tp := sp.TargetPort
				if tp.Type == intstr.Int && tp.IntVal == 0 {
					tp = intstr.FromInt32(sp.Port)
				}
				if !exposes(p.Template.Spec.Containers, tp, sp.Protocol) {
					out = append(out, Finding{refOf(s), fmt.Sprintf("port %q: targetPort %s is not a container port of %s", sp.Name, tp.String(), p.ref())})
				}
			}
		}
	}
	return out
}

func exposes(cs []corev1.Container, port intstr.IntOrString, proto corev1.Protocol) bool {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, c := range cs {
		for _, cp := range c.Ports {
			p := cp.Protocol
			if p == "" {
				p = corev1.ProtocolTCP
			}
			if p != proto {
				continue
			}
			if (port.Type == intstr.String && cp.Name == port.StrVal) || (port.Type == intstr.Int && cp.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

// targetPortNames: port names are IANA service names (RFC 6335).
func targetPortNames(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			for _, cp := range c.Ports {
				if cp.Name == "" {
					continue
				}
				for _, v := range validation.IsValidPortName(cp.Name) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s port name %q: %s", c.Name, cp.Name, v)})
				}
			}
		}
	}
	for _, s := range b.Services {
		for _, sp := range s.Spec.Ports {
			if sp.TargetPort.Type == intstr.String {
				for _, v := range validation.IsValidPortName(sp.TargetPort.StrVal) {
					out = append(out, Finding{refOf(s), fmt.Sprintf("targetPort %q: %s", sp.TargetPort.StrVal, v)})
				}
			} else if sp.TargetPort.IntVal != 0 {
				for _, v := range validation.IsValidPortNum(int(sp.TargetPort.IntVal)) {
					out = append(out, Finding{refOf(s), fmt.Sprintf("targetPort %d: %s", sp.TargetPort.IntVal, v)})
				}
			}
		}
	}
	return out
}

// probePorts: HTTP, TCP and gRPC probes target a port the container exposes.
func probePorts(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, c := range p.Template.Spec.Containers {
			for kind, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
				if pr == nil {
					continue
				}
				var port *intstr.IntOrString
				switch {
				case pr.HTTPGet != nil:
					port = &pr.HTTPGet.Port
				case pr.TCPSocket != nil:
					port = &pr.TCPSocket.Port
				case pr.GRPC != nil:
					v := intstr.FromInt32(pr.GRPC.Port)
					port = &v
				}
				if port != nil && !exposes([]corev1.Container{c}, *port, corev1.ProtocolTCP) {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s: %s probe port %s is not exposed", c.Name, kind, port.String())})
				}
			}
		}
	}
	return out
}

// configMapReferences: every configMapKeyRef, configMapRef and
// configMap volume names a ConfigMap of the build, and a named key exists.
func configMapReferences(b *Build) []Finding {
	var out []Finding
	need := func(by, what, name string, keys ...string) {
		cm, ok := b.ConfigMaps[name]
		if !ok {
			out = append(out, Finding{by, fmt.Sprintf("%s: ConfigMap %q is not in the build", what, name)})
			return
		}
		for _, k := range keys {
			_, inData := cm.Data[k]
			_, inBinary := cm.BinaryData[k]
			if !inData && !inBinary {
				out = append(out, Finding{by, fmt.Sprintf("%s: ConfigMap %s has no key %q", what, name, k)})
			}
		}
	}
	for _, p := range b.Pods {
		for _, c := range containers(&p.Template.Spec) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && !optional(e.ValueFrom.ConfigMapKeyRef.Optional) {
					need(p.ref(), "container "+c.Name+" env "+e.Name, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && !optional(ef.ConfigMapRef.Optional) {
					need(p.ref(), "container "+c.Name+" envFrom", ef.ConfigMapRef.Name)
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			if v.ConfigMap != nil && !optional(v.ConfigMap.Optional) {
				var keys []string
				for _, it := range v.ConfigMap.Items {
					keys = append(keys, it.Key)
				}
				need(p.ref(), "volume "+v.Name, v.ConfigMap.Name, keys...)
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.ConfigMap != nil && !optional(src.ConfigMap.Optional) {
						var keys []string
						for _, it := range src.ConfigMap.Items {
							keys = append(keys, it.Key)
						}
						need(p.ref(), "volume "+v.Name, src.ConfigMap.Name, keys...)
					}
				}
			}
		}
		// A subPath mount of a ConfigMap volume must name one of its keys.
		for _, c := range containers(&p.Template.Spec) {
			for _, m := range c.VolumeMounts {
				if m.SubPath == "" {
					continue
				}
				for _, v := range p.Template.Spec.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil && len(v.ConfigMap.Items) == 0 {
						need(p.ref(), "container "+c.Name+" subPath mount", v.ConfigMap.Name, m.SubPath)
					}
				}
			}
		}
	}
	return out
}

// pvcReferences: every persistentVolumeClaim volume names a PVC of the
// build (or a volumeClaimTemplate of its StatefulSet).
func pvcReferences(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		for _, v := range p.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && !b.PVCs[v.PersistentVolumeClaim.ClaimName] {
				out = append(out, Finding{p.ref(), fmt.Sprintf("volume %s: PersistentVolumeClaim %q is not in the build", v.Name, v.PersistentVolumeClaim.ClaimName)})
			}
		}
		// Every mount names a volume of the pod.
		vols := map[string]bool{}
		for _, v := range p.Template.Spec.Volumes {
			vols[v.Name] = true
		}
		if p.Kind == "StatefulSet" {
			for pvc := range b.PVCs {
				vols[pvc] = vols[pvc] || hasVCT(b, p, pvc)
			}
		}
		for _, c := range containers(&p.Template.Spec) {
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] {
					out = append(out, Finding{p.ref(), fmt.Sprintf("container %s mounts %q, which is not a volume of the pod", c.Name, m.Name)})
				}
			}
		}
	}
	return out
}

func hasVCT(b *Build, p Pod, name string) bool {
	for _, o := range b.Objects {
		if s, ok := o.(*appsv1.StatefulSet); ok && s.Name == p.Name {
			for _, v := range s.Spec.VolumeClaimTemplates {
				if v.Name == name {
					return true
				}
			}
		}
	}
	return false
}

// serviceAccounts: every pod names its own ServiceAccount of the build
// (not default, not the deprecated field) and mounts no API token.
func serviceAccounts(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		s := p.Template.Spec
		if s.DeprecatedServiceAccount != "" && s.DeprecatedServiceAccount != s.ServiceAccountName {
			out = append(out, Finding{p.ref(), fmt.Sprintf("deprecated serviceAccount %q differs from serviceAccountName %q", s.DeprecatedServiceAccount, s.ServiceAccountName)})
		} else if s.DeprecatedServiceAccount != "" {
			out = append(out, Finding{p.ref(), "uses the deprecated serviceAccount field"})
		}
		sa, ok := b.ServiceAccounts[s.ServiceAccountName]
		switch {
		case s.ServiceAccountName == "" || s.ServiceAccountName == "default":
			out = append(out, Finding{p.ref(), "runs as the namespace's default ServiceAccount"})
		case !ok:
			out = append(out, Finding{p.ref(), fmt.Sprintf("serviceAccountName %q is not a ServiceAccount of the build", s.ServiceAccountName)})
		}
		podOff := s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken
		saOff := ok && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken
		if s.AutomountServiceAccountToken != nil && *s.AutomountServiceAccountToken {
			out = append(out, Finding{p.ref(), "automountServiceAccountToken: true"})
		} else if !podOff && !saOff {
			out = append(out, Finding{p.ref(), "the ServiceAccount token is automounted (neither pod nor ServiceAccount sets automountServiceAccountToken: false)"})
		}
	}
	return out
}

// mismatchingSelector: workload selectors match their template labels.
func mismatchingSelector(b *Build) []Finding {
	var out []Finding
	for _, p := range b.Pods {
		if p.Selector == nil || (len(p.Selector.MatchLabels) == 0 && len(p.Selector.MatchExpressions) == 0) {
			if p.Job == nil {
				out = append(out, Finding{p.ref(), "no selector"})
			}
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Selector)
		if err != nil {
			out = append(out, Finding{p.ref(), fmt.Sprintf("invalid selector: %v", err)})
			continue
		}
		if !sel.Matches(labels.Set(p.Template.Labels)) {
			out = append(out, Finding{p.ref(), fmt.Sprintf("selector %s does not match template labels %v", sel, p.Template.Labels)})
		}
	}
	return out
}

// operationsReferences: every HorizontalPodAutoscaler scales a
// Deployment of the build (by apps/v1 kind and name, in its namespace);
// every PodDisruptionBudget selects the pods of exactly one workload; every
// ServiceMonitor selects a Service of its namespace that has each endpoint's
// port name.
func operationsReferences(b *Build) []Finding {
	var out []Finding
	for _, h := range b.HPAs {
		ref := h.Spec.ScaleTargetRef
		found := false
		for _, p := range b.Pods {
			if p.Kind == ref.Kind && p.Name == ref.Name && p.Namespace == h.Namespace && ref.APIVersion == "apps/v1" {
				found = true
			}
		}
		if !found {
			out = append(out, Finding{refOf(h), fmt.Sprintf("scaleTargetRef %s %s/%s is not a workload of the build", ref.APIVersion, ref.Kind, ref.Name)})
		}
	}
	for _, pdb := range b.PDBs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			out = append(out, Finding{refOf(pdb), "no usable selector"})
			continue
		}
		owners := map[string]bool{}
		for _, p := range selected(b, pdb.Namespace, sel) {
			owners[p.ref()] = true
		}
		if len(owners) != 1 {
			out = append(out, Finding{refOf(pdb), fmt.Sprintf("selector %v selects the pods of %d workloads, want exactly one", pdb.Spec.Selector.MatchLabels, len(owners))})
		}
	}
	for _, sm := range b.ServiceMonitors {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || sel.Empty() {
			out = append(out, Finding{refOf(sm), "no usable selector"})
			continue
		}
		var svcs []*corev1.Service
		for _, s := range b.Services {
			if s.Namespace == sm.Namespace && sel.Matches(labels.Set(s.Labels)) {
				svcs = append(svcs, s)
			}
		}
		if len(svcs) == 0 {
			out = append(out, Finding{refOf(sm), fmt.Sprintf("selector %v selects no Service", sm.Spec.Selector.MatchLabels)})
		}
		for _, ep := range sm.Spec.Endpoints {
			for _, s := range svcs {
				has := false
				for _, p := range s.Spec.Ports {
					has = has || p.Name == ep.Port
				}
				if !has {
					out = append(out, Finding{refOf(sm), fmt.Sprintf("endpoint port %q is not a port of %s", ep.Port, refOf(s))})
				}
			}
		}
	}
	return out
}

// routeReferences: every parentRef of an HTTPRoute names a listener of a
// Gateway of the build, and every backendRef a Service of the build with
// that port.
func routeReferences(b *Build) []Finding {
	var out []Finding
	for _, r := range b.HTTPRoutes {
		for _, ref := range r.Spec.ParentRefs {
			if ref.Kind != nil && *ref.Kind != "Gateway" {
				continue
			}
			if _, ok := listenerOf(b, r.Namespace, ref); !ok {
				section := ""
				if ref.SectionName != nil {
					section = " listener " + string(*ref.SectionName)
				}
				out = append(out, Finding{refOf(r), fmt.Sprintf("parentRef Gateway/%s%s is not in the build", ref.Name, section)})
			}
		}
		for _, rule := range r.Spec.Rules {
			for _, be := range rule.BackendRefs {
				if be.Kind != nil && *be.Kind != "Service" {
					continue
				}
				if !servicePort(b, r.Namespace, string(be.Name), be.Port) {
					port := ""
					if be.Port != nil {
						port = fmt.Sprintf(" port %d", *be.Port)
					}
					out = append(out, Finding{refOf(r), fmt.Sprintf("backendRef Service/%s%s is not in the build", be.Name, port)})
				}
			}
		}
	}
	return out
}

// servicePort reports whether the build has Service name in namespace
// with port (any port when nil).
func servicePort(b *Build, namespace, name string, port *gwapiv1.PortNumber) bool {
	for _, s := range b.Services {
		if s.Name != name || s.Namespace != namespace {
			continue
		}
		for _, p := range s.Spec.Ports {
			if port == nil || p.Port == int32(*port) {
				return true
			}
		}
	}
	return false
}
