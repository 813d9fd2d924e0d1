package review

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/distribution/reference"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"lbl.gov/invenio-gitops/generator/tree"
)

// objectRules flag what a reviewer must not miss in one object; each
// looks at the object on both sides (either may be nil: added, removed).
var objectRules = []func(pair) []Flag{
	immutableRule, imageRule, replicasRule, resourcesRule, storageRule, ingressRule, gatewayRule, rbacRule, securityRule, fluxRule, secretsRule,
}

// ChecksumAnnotation is the pod-template annotation that follows the sealed
// secrets a pod reads, so that a re-seal restarts it.
const ChecksumAnnotation = "checksum/secrets"

// PruneAnnotation protects an object from Flux's garbage collection.
const PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"

func newFlag(c Category, format string, args ...any) Flag {
	return Flag{Category: c, Message: fmt.Sprintf(format, args...)}
}

// podTemplate is the pod template of a workload (the pod itself for a
// Pod), or nil.
func podTemplate(d tree.Doc) map[string]any {
	if d == nil {
		return nil
	}
	var t any
	switch d["kind"] {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		t = field(d, "spec", "template")
	case "CronJob":
		t = field(d, "spec", "jobTemplate", "spec", "template")
	case "Pod":
		t = map[string]any(d)
	}
	m, _ := t.(map[string]any)
	return m
}

// container is one container of a pod, named as a reviewer reads it.
type container struct {
	label string // "container web" or "init container copy-static"
	spec  map[string]any
}

// containers of a pod template, by label.
func containers(template map[string]any) map[string]container {
	out := map[string]container{}
	for _, list := range []struct{ field, label string }{{"initContainers", "init container "}, {"containers", "container "}} {
		for _, c := range items(template, "spec", list.field) {
			label := list.label + str(c, "name")
			out[label] = container{label: label, spec: c}
		}
	}
	return out
}

// both calls f for each container present on both sides, in order.
func bothContainers(p pair, f func(label string, old, new map[string]any)) {
	oc, nc := containers(podTemplate(p.old)), containers(podTemplate(p.new))
	for _, label := range slices.Sorted(maps.Keys(nc)) {
		if o, ok := oc[label]; ok {
			f(label, o.spec, nc[label].spec)
		}
	}
}

// imageRule: a container's image, a HelmRelease's chart version.
func imageRule(p pair) []Flag {
	var out []Flag
	bothContainers(p, func(label string, o, n map[string]any) {
		oi, ni := str(o, "image"), str(n, "image")
		if oi == ni {
			return
		}
		or, ot := splitImage(oi)
		nr, nt := splitImage(ni)
		f := newFlag(Images, "image %s → %s", oi, ni)
		if or == nr {
			f = newFlag(Images, "%s tag %s → %s", nr, ot, nt)
		}
		f.where = label
		out = append(out, f)
	})
	if p.old != nil && p.new != nil && p.id.Kind == "HelmRelease" {
		ov, nv := str(p.old, "spec", "chart", "spec", "version"), str(p.new, "spec", "chart", "spec", "version")
		if ov != nv {
			out = append(out, newFlag(Images, "chart %s version %s → %s", str(p.new, "spec", "chart", "spec", "chart"), orNone(ov), orNone(nv)))
		}
	}
	return out
}

// splitImage splits an image reference into repository and tag (or
// digest) as the container runtime reads it
// (github.com/distribution/reference, not normalized); a reference it
// cannot read is all repository.
func splitImage(ref string) (repo, tag string) {
	r, err := reference.Parse(ref)
	named, ok := r.(reference.Named)
	if err != nil || !ok {
		return ref, "(unreadable)"
	}
	switch x := r.(type) {
	case reference.Digested:
		return named.Name(), x.Digest().String()
	case reference.Tagged:
		return named.Name(), x.Tag()
	}
	return named.Name(), "(none, i.e. latest)"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// replicasRule: replica counts and HorizontalPodAutoscaler bounds.
func replicasRule(p pair) []Flag {
	var out []Flag
	fields := map[string][]string{
		"Deployment": {"replicas"}, "StatefulSet": {"replicas"}, "ReplicaSet": {"replicas"},
		"HorizontalPodAutoscaler": {"minReplicas", "maxReplicas"},
	}[p.id.Kind]
	switch {
	case len(fields) == 0:
	case p.old != nil && p.new != nil:
		for _, f := range fields {
			o, n := field(p.old, "spec", f), field(p.new, "spec", f)
			if !reflect.DeepEqual(o, n) {
				out = append(out, newFlag(Replicas, "%s %s → %s", f, unsetIs(o, "1"), unsetIs(n, "1")))
			}
		}
	case p.id.Kind == "HorizontalPodAutoscaler" && p.new != nil:
		out = append(out, newFlag(Replicas, "autoscales %s from %s to %s replicas", str(p.new, "spec", "scaleTargetRef", "name"), unsetIs(field(p.new, "spec", "minReplicas"), "1"), render(field(p.new, "spec", "maxReplicas"))))
	case p.id.Kind == "HorizontalPodAutoscaler":
		out = append(out, newFlag(Replicas, "autoscaling of %s removed", str(p.old, "spec", "scaleTargetRef", "name")))
	}
	return out
}

func unsetIs(v any, def string) string {
	if v == nil {
		return "unset (" + def + ")"
	}
	return render(v)
}

// resourcesRule: each container's requests and limits.
func resourcesRule(p pair) []Flag {
	var out []Flag
	bothContainers(p, func(label string, o, n map[string]any) {
		for _, kind := range []string{"requests", "limits"} {
			om := object(o, "resources", kind)
			nm := object(n, "resources", kind)
			keys := map[string]any{}
			for k := range om {
				keys[k] = nil
			}
			for k := range nm {
				keys[k] = nil
			}
			for _, k := range slices.Sorted(maps.Keys(keys)) {
				if !reflect.DeepEqual(om[k], nm[k]) && !quantityEqual(om[k], nm[k]) {
					out = append(out, newFlag(Resources, "%s: %s.%s %s → %s", label, kind, k, render(om[k]), render(nm[k])))
				}
			}
		}
	})
	return out
}

// storageRule: a claim that grows, a new claim, and claims Flux would
// delete. What the API server refuses — a claim that shrinks or changes
// class, access modes or volume mode, any change of a StatefulSet's
// volumeClaimTemplates — is the immutable rule's.
func storageRule(p pair) []Flag {
	if p.id.Kind != "PersistentVolumeClaim" || p.id.Group != "" {
		return nil
	}
	var out []Flag
	switch {
	case p.old != nil && p.new != nil:
		os, ns := str(p.old, "spec", "resources", "requests", "storage"), str(p.new, "spec", "resources", "requests", "storage")
		switch sizeChange(os, ns) {
		case "grow":
			out = append(out, newFlag(Storage, "size %s → %s (grow: expands in place if the storage class allows volume expansion)", os, ns))
		case "shrink":
			// refused: the immutable rule says so
		default:
			if os != ns && !quantityEqual(os, ns) {
				out = append(out, newFlag(Storage, "size %s → %s", orNone(os), orNone(ns)))
			}
		}
	case p.new != nil:
		out = append(out, newFlag(Storage, "new claim: %s", describeClaim(object(p.new, "spec"))))
	default:
		if str(p.old, "metadata", "annotations", PruneAnnotation) == "disabled" {
			out = append(out, newFlag(Storage, "claim removed from git (%s); Flux keeps it (prune disabled)", describeClaim(object(p.old, "spec"))))
		} else {
			out = append(out, newFlag(Storage, "claim removed (%s): Flux deletes it, and its data with it unless the volume is retained", describeClaim(object(p.old, "spec"))))
		}
	}
	return out
}

// joinList prints a list of scalars as "a, b".
func joinList(v any) string {
	l, ok := v.([]any)
	if !ok {
		return render(v)
	}
	var s []string
	for _, e := range l {
		s = append(s, render(e))
	}
	return strings.Join(s, ", ")
}

func describeClaim(spec map[string]any) string {
	s := orNone(str(spec, "resources", "requests", "storage"))
	if c := str(spec, "storageClassName"); c != "" {
		s += ", class " + c
	}
	if m := field(spec, "accessModes"); m != nil {
		s += ", " + joinList(m)
	}
	return s
}

// ingressRule: hosts, TLS, the ingress class and the certificate issuer;
// a Service reachable from outside the cluster (NodePort, LoadBalancer).
func ingressRule(p pair) []Flag {
	if p.id.Kind == "Service" && p.id.Group == "" && p.new != nil {
		ot, nt := str(p.old, "spec", "type"), str(p.new, "spec", "type")
		if nt != ot && (nt == "NodePort" || nt == "LoadBalancer") {
			return []Flag{newFlag(Ingress, "Service type %s → %s: reachable from outside the cluster", orNone(ot), nt)}
		}
		return nil
	}
	if p.id.Kind != "Ingress" {
		return nil
	}
	oi, ni := typed[networkingv1.Ingress](p.old), typed[networkingv1.Ingress](p.new)
	hosts := func(ing networkingv1.Ingress) map[string]any {
		m := map[string]any{}
		for _, r := range ing.Spec.Rules {
			m[orNone(r.Host)] = nil
		}
		return m
	}
	// TLS entries by the Secret that holds their certificate.
	tls := func(ing networkingv1.Ingress) map[string][]string {
		m := map[string][]string{}
		for _, t := range ing.Spec.TLS {
			m[orNone(t.SecretName)] = t.Hosts
		}
		return m
	}
	hostList := func(l []string) string {
		if l == nil {
			return "(none)"
		}
		return strings.Join(l, ", ")
	}
	var out []Flag
	for _, h := range setDiff(hosts(oi), hosts(ni)) {
		out = append(out, newFlag(Ingress, "host %s %s", h.item, h.verb("exposed", "no longer exposed")))
	}
	ot, nt := tls(oi), tls(ni)
	for _, t := range setDiff(keySet(ot), keySet(nt)) {
		hosts := ot[t.item]
		if t.added {
			hosts = nt[t.item]
		}
		out = append(out, newFlag(Ingress, "TLS for %s (certificate in Secret %s) %s", hostList(hosts), t.item, t.verb("added", "removed")))
	}
	for _, secret := range slices.Sorted(maps.Keys(nt)) {
		if o, in := ot[secret]; in && !slices.Equal(o, nt[secret]) {
			out = append(out, newFlag(Ingress, "TLS certificate in Secret %s: hosts %s → %s", secret, hostList(o), hostList(nt[secret])))
		}
	}
	if p.old != nil && p.new != nil {
		for _, f := range [][]string{{"spec", "ingressClassName"}, {"metadata", "annotations", "cert-manager.io/cluster-issuer"}, {"metadata", "annotations", "cert-manager.io/issuer"}} {
			if o, n := str(p.old, f...), str(p.new, f...); o != n {
				out = append(out, newFlag(Ingress, "%s %s → %s", f[len(f)-1], orNone(o), orNone(n)))
			}
		}
	}
	return out
}

// change is one element of a set difference.
type change struct {
	item  string
	added bool
}

func (c change) verb(added, removed string) string {
	if c.added {
		return added
	}
	return removed
}

// setDiff lists what was removed from old, then what was added in new,
// each sorted.
func setDiff(old, new map[string]any) []change {
	var out []change
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := new[k]; !ok {
			out = append(out, change{item: k})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(new)) {
		if _, ok := old[k]; !ok {
			out = append(out, change{item: k, added: true})
		}
	}
	return out
}

// rbacRule: the rules of Roles and ClusterRoles, the subjects and role of
// bindings.
func rbacRule(p pair) []Flag {
	if p.id.Group != "rbac.authorization.k8s.io" {
		return nil
	}
	var out []Flag
	switch p.id.Kind {
	case "Role", "ClusterRole":
		// A Role and a ClusterRole have the same rules.
		rules := func(d tree.Doc) map[string]any {
			m := map[string]any{}
			for _, r := range typed[rbacv1.ClusterRole](d).Rules {
				m[describeRule(r)] = nil
			}
			return m
		}
		for _, c := range setDiff(rules(p.old), rules(p.new)) {
			out = append(out, newFlag(RBAC, "%s %s", c.verb("grants", "no longer grants"), c.item))
		}
	case "RoleBinding", "ClusterRoleBinding":
		ob, nb := typed[rbacv1.ClusterRoleBinding](p.old), typed[rbacv1.ClusterRoleBinding](p.new)
		subjects := func(b rbacv1.ClusterRoleBinding) map[string]any {
			m := map[string]any{}
			for _, s := range b.Subjects {
				name := s.Name
				if s.Namespace != "" {
					name = s.Namespace + "/" + name
				}
				m[s.Kind+" "+name] = nil
			}
			return m
		}
		role := func(b rbacv1.ClusterRoleBinding) string { return b.RoleRef.Kind + " " + b.RoleRef.Name }
		r := role(nb)
		if p.new == nil {
			r = role(ob)
		}
		if p.old != nil && p.new != nil && role(ob) != role(nb) {
			out = append(out, newFlag(RBAC, "binds %s instead of %s", role(nb), role(ob)))
		}
		for _, c := range setDiff(subjects(ob), subjects(nb)) {
			out = append(out, newFlag(RBAC, "%s %s %s", c.item, c.verb("gains", "loses"), r))
		}
	}
	return out
}

func describeRule(r rbacv1.PolicyRule) string {
	join := func(l []string) string {
		var s []string
		for _, e := range l {
			if e == "" {
				e = `""`
			}
			s = append(s, e)
		}
		return strings.Join(s, ",")
	}
	if urls := join(r.NonResourceURLs); urls != "" {
		return fmt.Sprintf("%s on URLs %s", join(r.Verbs), urls)
	}
	s := fmt.Sprintf("%s on %s", join(r.Verbs), join(r.Resources))
	if g := join(r.APIGroups); g != `""` {
		s += " (API groups " + g + ")"
	}
	if n := join(r.ResourceNames); n != "" {
		s += " named " + n
	}
	return s
}

// securityRule: anything that loosens a pod's security context, as the
// settings that are not at their restricted value on the new side and
// were on the old one (all of them, for a new workload).
func securityRule(p pair) []Flag {
	if podTemplate(p.new) == nil {
		return nil
	}
	old := looseSettings(podTemplate(p.old))
	var out []Flag
	loose := looseSettings(podTemplate(p.new))
	for _, k := range slices.Sorted(maps.Keys(loose)) {
		if _, was := old[k]; !was {
			out = append(out, newFlag(Security, "%s", loose[k]))
		}
	}
	if len(out) > 0 && p.old == nil {
		for i := range out {
			out[i].Message = "new workload: " + out[i].Message
		}
	}
	return out
}

// looseSettings lists, by a stable key, every setting of a pod template
// that is looser than Pod Security "restricted" asks (and than the
// generator writes).
func looseSettings(t map[string]any) map[string]string {
	out := map[string]string{}
	if t == nil {
		return out
	}
	spec := object(t, "spec")
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if spec[f] == true {
			out[f] = "pod: " + f + " true"
		}
	}
	// Unset inherits the ServiceAccount's setting, so only an explicit
	// true is a loosening here.
	if spec["automountServiceAccountToken"] == true {
		out["automount"] = "pod: automountServiceAccountToken true"
	}
	for _, v := range items(spec, "volumes") {
		if hp := field(v, "hostPath", "path"); hp != nil {
			out["hostPath "+str(v, "name")] = fmt.Sprintf("volume %s: hostPath %s", str(v, "name"), render(hp))
		}
	}
	podSC := object(spec, "securityContext")
	cs := containers(t)
	for _, label := range slices.Sorted(maps.Keys(cs)) {
		sc := object(cs[label].spec, "securityContext")
		eff := func(f string) any {
			if v, ok := sc[f]; ok {
				return v
			}
			return podSC[f]
		}
		loose := func(key, format string, args ...any) {
			out[label+" "+key] = label + ": " + fmt.Sprintf(format, args...)
		}
		if v := eff("runAsNonRoot"); v != true {
			loose("runAsNonRoot", "runAsNonRoot %s", render(v))
		}
		if v := eff("runAsUser"); v == 0.0 {
			loose("runAsUser", "runAsUser 0 (root)")
		}
		if sc["privileged"] == true {
			loose("privileged", "privileged true")
		}
		if v := sc["allowPrivilegeEscalation"]; v != false {
			loose("allowPrivilegeEscalation", "allowPrivilegeEscalation %s", render(v))
		}
		if v := sc["readOnlyRootFilesystem"]; v != true {
			loose("readOnlyRootFilesystem", "readOnlyRootFilesystem %s", render(v))
		}
		if t := str(asObject(eff("seccompProfile")), "type"); t != "RuntimeDefault" && t != "Localhost" {
			loose("seccomp", "seccompProfile %s", orNone(t))
		}
		drop := list(sc, "capabilities", "drop")
		if !contains(drop, "ALL") {
			loose("drop", "capabilities not all dropped (drop %s)", render(drop))
		}
		for _, c := range list(sc, "capabilities", "add") {
			loose("add "+fmt.Sprint(c), "adds capability %v", c)
		}
	}
	return out
}

func contains(l []any, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

// fluxRule: what Flux does with what it applies — a Kustomization's path,
// prune, dependsOn, suspend and force; the source a cluster follows; a
// HelmRelease suspended; an object's prune protection.
func fluxRule(p pair) []Flag {
	var out []Flag
	switch {
	case p.id.Group == "kustomize.toolkit.fluxcd.io" && p.id.Kind == "Kustomization":
		switch {
		case p.old == nil:
			out = append(out, newFlag(Flux, "new Kustomization: applies %s (prune %s)", str(p.new, "spec", "path"), render(field(p.new, "spec", "prune"))))
		case p.new == nil:
			msg := "Kustomization removed"
			if field(p.old, "spec", "prune") == true {
				msg += ": Flux deletes everything it applied (" + str(p.old, "spec", "path") + ")"
			}
			out = append(out, newFlag(Flux, "%s", msg))
		default:
			for _, f := range []string{"path", "prune", "suspend", "force", "targetNamespace", "sourceRef"} {
				if o, n := field(p.old, "spec", f), field(p.new, "spec", f); !reflect.DeepEqual(o, n) {
					out = append(out, newFlag(Flux, "%s %s → %s", f, render(o), render(n)))
				}
			}
			deps := func(d tree.Doc) map[string]any {
				m := map[string]any{}
				for _, e := range items(d, "spec", "dependsOn") {
					m[str(e, "name")] = nil
				}
				return m
			}
			for _, c := range setDiff(deps(p.old), deps(p.new)) {
				out = append(out, newFlag(Flux, "%s %s", c.verb("now depends on", "no longer depends on"), c.item))
			}
		}
	case p.id.Group == "source.toolkit.fluxcd.io" && p.old != nil && p.new != nil:
		for _, f := range []string{"url", "ref"} {
			if o, n := field(p.old, "spec", f), field(p.new, "spec", f); !reflect.DeepEqual(o, n) {
				out = append(out, newFlag(Flux, "source %s %s → %s", f, render(o), render(n)))
			}
		}
	case p.id.Group == "helm.toolkit.fluxcd.io" && p.id.Kind == "HelmRelease":
		release := func(d tree.Doc) string {
			return fmt.Sprintf("%s (chart %s) in namespace %s", orDefault(str(d, "spec", "releaseName"), str(d, "metadata", "name")),
				str(d, "spec", "chart", "spec", "chart"), orNone(str(d, "spec", "targetNamespace")))
		}
		switch {
		case p.old == nil:
			out = append(out, newFlag(Flux, "new HelmRelease: helm-controller installs %s", release(p.new)))
		case p.new == nil && str(p.old, "metadata", "annotations", PruneAnnotation) != "disabled":
			out = append(out, newFlag(Flux, "HelmRelease removed: helm-controller uninstalls %s, and everything the chart made with it", release(p.old)))
		case p.new != nil:
			if o, n := field(p.old, "spec", "suspend"), field(p.new, "spec", "suspend"); !reflect.DeepEqual(o, n) {
				out = append(out, newFlag(Flux, "suspend %s → %s", render(o), render(n)))
			}
			for _, f := range []string{"targetNamespace", "releaseName"} {
				if o, n := str(p.old, "spec", f), str(p.new, "spec", f); o != n {
					out = append(out, newFlag(Flux, "%s %s → %s: helm-controller uninstalls the release %s and installs it anew, and everything the chart made with it", f, orNone(o), orNone(n), release(p.old)))
				}
			}
		}
	}
	// (A claim's removal has its own words: storageRule.)
	if p.old != nil && p.new == nil && p.id.Kind != "PersistentVolumeClaim" && str(p.old, "metadata", "annotations", PruneAnnotation) == "disabled" {
		out = append(out, newFlag(Flux, "removed from git, but Flux leaves it on the cluster (%s: disabled): delete it by hand once nothing uses it", PruneAnnotation))
	}
	if p.old != nil && p.new != nil {
		if o, n := str(p.old, "metadata", "annotations", PruneAnnotation), str(p.new, "metadata", "annotations", PruneAnnotation); o != n {
			out = append(out, newFlag(Flux, "%s %s → %s", PruneAnnotation, orNone(o), orNone(n)))
		}
	}
	return out
}

// secretsRule: SealedSecret keys added, removed or re-sealed (never a
// value), a sealing scope changed, and the pods that restart because the
// checksum of the secrets they read changed.
func secretsRule(p pair) []Flag {
	var out []Flag
	if p.id.Kind == "SealedSecret" {
		keys := func(d tree.Doc) map[string]any {
			m := object(d, "spec", "encryptedData")
			return m
		}
		ok, nk := keys(p.old), keys(p.new)
		var added, removed []string
		for _, c := range setDiff(ok, nk) {
			if c.added {
				added = append(added, c.item)
			} else {
				removed = append(removed, c.item)
			}
		}
		switch {
		case p.old == nil:
			out = append(out, newFlag(Secrets, "new, keys %s", strings.Join(added, ", ")))
		case p.new == nil:
			out = append(out, newFlag(Secrets, "removed, keys %s", strings.Join(removed, ", ")))
		default:
			if len(added) > 0 {
				out = append(out, newFlag(Secrets, "keys added: %s", strings.Join(added, ", ")))
			}
			if len(removed) > 0 {
				out = append(out, newFlag(Secrets, "keys removed: %s", strings.Join(removed, ", ")))
			}
		}
		var resealed []string
		for _, k := range slices.Sorted(maps.Keys(nk)) {
			if o, in := ok[k]; in && o != nk[k] {
				resealed = append(resealed, k)
			}
		}
		if len(resealed) > 0 {
			out = append(out, newFlag(Secrets, "re-sealed: %s", strings.Join(resealed, ", ")))
		}
		if p.old != nil && p.new != nil {
			for _, a := range []string{"sealedsecrets.bitnami.com/namespace-wide", "sealedsecrets.bitnami.com/cluster-wide"} {
				if o, n := str(p.old, "metadata", "annotations", a), str(p.new, "metadata", "annotations", a); o != n {
					out = append(out, newFlag(Secrets, "sealing scope %s %s → %s", a, orNone(o), orNone(n)))
				}
			}
		}
	}
	if p.old != nil && p.new != nil {
		o := str(podTemplate(p.old), "metadata", "annotations", ChecksumAnnotation)
		n := str(podTemplate(p.new), "metadata", "annotations", ChecksumAnnotation)
		if o != n && o != "" && n != "" {
			f := newFlag(Secrets, "pods restart: %s changed (follows the sealed secrets they read)", ChecksumAnnotation)
			f.consequence = true
			out = append(out, f)
		}
	}
	return out
}

// markChecksumConsequence notes, on each changed checksum annotation, that
// it follows a change of sealed secrets in the same scope.
func markChecksumConsequence(changed []ObjectChange) {
	for i := range changed {
		for j := range changed[i].Fields {
			f := &changed[i].Fields[j]
			if strings.HasSuffix(f.Path, "annotations."+ChecksumAnnotation) && f.Old != nil && f.New != nil {
				f.Note = "consequence of the sealed-secret change"
			}
		}
	}
}
