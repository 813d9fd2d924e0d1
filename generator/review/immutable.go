package review

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/tree"
)

// Runbook is the document that says, per kind, what a change the API
// server refuses takes; every Immutable flag names its section.
const Runbook = "docs/immutable-fields.md"

// ForceAnnotation makes Flux delete and recreate an object whose apply
// the API server refused as an immutable-field change (fluxcd/pkg/ssa
// ResourceManager.shouldForceApply; a Kustomization's spec.force does the
// same for everything it applies).
const ForceAnnotation = "kustomize.toolkit.fluxcd.io/force"

// groupKind names a kind as the API server's validation does.
type groupKind struct{ group, kind string }

// immutableKind is what the API server refuses to change on an existing
// object of one kind, and what such a change takes.
type immutableKind struct {
	// anchor is the section of Runbook for the kind.
	anchor string
	// procedure says in a phrase what the change takes by hand.
	procedure string
	// recreated says what Flux's delete-and-create (force) does to the
	// object and what depends on it.
	recreated func(old tree.Doc) string
	// refused lists the changes from old to new (both present, both the
	// manifests as applied) that the API server refuses.
	refused func(old, new tree.Doc) []refusal
}

// refusal is one change the API server refuses.
type refusal struct {
	change string // the field, old → new: "spec.serviceName a → b"
	why    string // "" or what makes it refused: "a claim cannot shrink"
}

// immutableKinds are the kinds whose objects have fields the API server
// refuses to change, with the source of each fact: the update validation
// of k8s.io/kubernetes (pkg/apis/<group>/validation and the registry
// strategies, read at v1.32.6, the version `make e2e` runs) and of the
// sealed-secrets controller. Kinds the generator emits that are absent
// here accept every change of their spec: Namespace, ServiceAccount,
// CronJob (ValidateCronJobUpdate checks values, not changes),
// HorizontalPodAutoscaler, PodDisruptionBudget (mutable since policy/v1),
// NetworkPolicy, Ingress, and the custom resources (ServiceMonitor,
// PrometheusRule, ClusterIssuer, Flux's objects): none of their CRDs has a
// transition rule (TestNoCRDHasTransitionRules).
var immutableKinds = map[groupKind]immutableKind{
	// pkg/registry/apps/deployment/strategy.go ValidateUpdate: spec.selector
	// is immutable in apps/v1 (ValidateImmutableField).
	{"apps", "Deployment"}: {
		anchor:    "deployment",
		procedure: "delete the Deployment with --cascade=orphan (its pods keep serving) and Flux creates it anew",
		recreated: func(tree.Doc) string { return "its pods stop and start again at once, without a rolling update" },
		refused:   selectorOnly,
	},
	// pkg/registry/apps/replicaset/strategy.go, daemonset/strategy.go: the same.
	{"apps", "ReplicaSet"}: {
		anchor:    "deployment",
		procedure: "delete the ReplicaSet with --cascade=orphan and Flux creates it anew",
		recreated: func(tree.Doc) string { return "its pods stop and start again at once" },
		refused:   selectorOnly,
	},
	{"apps", "DaemonSet"}: {
		anchor:    "deployment",
		procedure: "delete the DaemonSet with --cascade=orphan and Flux creates it anew",
		recreated: func(tree.Doc) string { return "its pods stop and start again at once" },
		refused:   selectorOnly,
	},
	// pkg/apis/apps/validation ValidateStatefulSetUpdate.
	{"apps", "StatefulSet"}: {
		anchor:    "statefulset",
		procedure: "delete the StatefulSet with --cascade=orphan (pods and claims stay) and Flux creates it anew; existing claims are not changed",
		recreated: statefulSetRecreated,
		refused:   statefulSetRefused,
	},
	// pkg/apis/batch/validation ValidateJobSpecUpdate.
	{"batch", "Job"}: {
		anchor:    "job",
		procedure: "delete the Job and Flux creates it anew, which runs it again",
		recreated: func(tree.Doc) string { return "it runs again" },
		refused:   jobRefused,
	},
	// pkg/apis/core/validation ValidateServiceUpdate.
	{"", "Service"}: {
		anchor:    "service",
		procedure: "delete the Service and Flux creates it anew, with a new cluster IP",
		recreated: func(tree.Doc) string { return "it gets a new cluster IP" },
		refused:   serviceRefused,
	},
	// pkg/apis/core/validation ValidatePersistentVolumeClaimUpdate.
	{"", "PersistentVolumeClaim"}: {
		anchor:    "persistentvolumeclaim",
		procedure: "needs a new volume: copy the data to a new claim or restore it from a backup",
		recreated: func(tree.Doc) string {
			return "the claim is deleted, and its data with it unless its volume's reclaim policy is Retain"
		},
		refused: claimRefused,
	},
	// pkg/apis/core/validation ValidateConfigMapUpdate, ValidateSecretUpdate.
	{"", "ConfigMap"}: {
		anchor:    "configmap-and-secret",
		procedure: "delete it and Flux creates it anew; pods read it when they start",
		recreated: func(tree.Doc) string { return "pods that mount it see the new content only when they restart" },
		refused:   func(o, n tree.Doc) []refusal { return immutableData(o, n, "data", "binaryData") },
	},
	{"", "Secret"}: {
		anchor:    "configmap-and-secret",
		procedure: "delete it and Flux creates it anew; pods read it when they start",
		recreated: func(tree.Doc) string { return "pods that mount it see the new content only when they restart" },
		refused: func(o, n tree.Doc) []refusal {
			var out []refusal
			if ot, nt := orDefault(str(o, "type"), "Opaque"), orDefault(str(n, "type"), "Opaque"); ot != nt {
				out = append(out, refusal{change: "type " + ot + " → " + nt})
			}
			return append(out, immutableData(o, n, "data", "stringData")...)
		},
	},
	// The sealed-secrets controller (pkg/controller/controller.go) updates
	// the Secret from the SealedSecret; the API server refuses that update
	// as above. Flux's apply of the SealedSecret itself succeeds: the
	// refusal shows in the SealedSecret's status and Events.
	{"bitnami.com", "SealedSecret"}: {
		anchor:    "sealedsecret",
		procedure: "delete the Secret (not the SealedSecret) and the sealed-secrets controller creates it anew",
		recreated: func(tree.Doc) string { return "the controller creates the Secret anew" },
		refused:   sealedSecretRefused,
	},
	// The GatewayClass CRD of Gateway API (standard channel, as Envoy
	// Gateway's gateway-crds-helm installs it): spec.controllerName has the
	// transition rule self == oldSelf.
	{"gateway.networking.k8s.io", "GatewayClass"}: {
		anchor:    "gatewayclass",
		procedure: "delete the GatewayClass and Flux creates it anew (its Gateways are unserved in between)",
		recreated: func(tree.Doc) string { return "its Gateways are unserved until the new class is accepted" },
		refused:   func(o, n tree.Doc) []refusal { return fieldRefusals(o, n, "spec", "controllerName") },
	},
	// pkg/apis/rbac/validation ValidateRoleBindingUpdate,
	// ValidateClusterRoleBindingUpdate: "cannot change roleRef".
	{"rbac.authorization.k8s.io", "RoleBinding"}: {
		anchor:    "rolebinding",
		procedure: "delete the binding and Flux creates it anew (its subjects lack the role in between)",
		recreated: func(tree.Doc) string { return "its subjects lack the role for a moment" },
		refused:   func(o, n tree.Doc) []refusal { return fieldRefusals(o, n, "", "roleRef") },
	},
	{"rbac.authorization.k8s.io", "ClusterRoleBinding"}: {
		anchor:    "rolebinding",
		procedure: "delete the binding and Flux creates it anew (its subjects lack the role in between)",
		recreated: func(tree.Doc) string { return "its subjects lack the role for a moment" },
		refused:   func(o, n tree.Doc) []refusal { return fieldRefusals(o, n, "", "roleRef") },
	},
}

// immutableRule flags each change of an existing object that the API
// server refuses: Flux's apply of the whole layer fails on it, every
// reconciliation, until someone acts. Where Flux is told to recreate the
// object instead (the force annotation, or its Kustomization's
// spec.force), the change goes through by delete-and-create: that is
// flagged under flux with what the recreation does, not as refused.
func immutableRule(p pair) []Flag {
	k, ok := immutableKinds[groupKind{p.id.Group, p.id.Kind}]
	if !ok || p.old == nil || p.new == nil {
		return nil
	}
	var out []Flag
	for _, r := range k.refused(p.old, p.new) {
		if p.forcedBy != "" {
			out = append(out, newFlag(Flux, "%s: the API server refuses it in place; Flux deletes the %s and creates it anew (%s): %s",
				r.change, p.id.Kind, p.forcedBy, k.recreated(p.old)))
			continue
		}
		msg := r.change + ": the API server refuses it"
		if r.why != "" {
			msg += " (" + r.why + ")"
		}
		f := newFlag(Immutable, "%s; %s — %s#%s", msg, k.procedure, Runbook, k.anchor)
		f.Runbook = Runbook + "#" + k.anchor
		out = append(out, f)
	}
	return out
}

// forcedBy says why Flux recreates the object rather than fail on a
// refused change: its force annotation (on either side: Flux reads it on
// the object in git and on the cluster), or the spec.force of the
// Kustomization that applies it; "" when neither.
func forcedBy(o, n Object, kustomizations Objects) string {
	for _, d := range []tree.Doc{n.Doc, o.Doc} {
		if str(d, "metadata", "annotations", ForceAnnotation) == "enabled" {
			return ForceAnnotation + ": enabled"
		}
	}
	if n.Layer == "" {
		return ""
	}
	for id, k := range kustomizations {
		if id.Group == "kustomize.toolkit.fluxcd.io" && id.Kind == "Kustomization" && id.Name == n.Layer && field(k.Doc, "spec", "force") == true {
			return "Kustomization " + n.Layer + " has spec.force: true"
		}
	}
	return ""
}

// selectorOnly: spec.selector, printed whole (a selector reads as a set
// of labels, not as leaves).
func selectorOnly(o, n tree.Doc) []refusal {
	return selectorRefusal(o, n, "spec", "selector")
}

func selectorRefusal(o, n tree.Doc, path ...string) []refusal {
	os, ns := field(o, path...), field(n, path...)
	if semanticEqual[struct {
		Selector *metav1.LabelSelector `json:"selector"`
	}]("selector", os, ns) {
		return nil
	}
	return []refusal{{change: fmt.Sprintf("%s %s → %s", strings.Join(path, "."), formatSelector(os), formatSelector(ns))}}
}

// formatSelector prints a label selector the way kubectl takes it
// (metav1.FormatLabelSelector): "a=b,c in (d)".
func formatSelector(v any) string {
	if v == nil {
		return "(none)"
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return render(v)
	}
	var s metav1.LabelSelector
	if err := yaml.UnmarshalStrict(b, &s); err != nil {
		return render(v)
	}
	return metav1.FormatLabelSelector(&s)
}

// statefulSetMutable are the only spec fields ValidateStatefulSetUpdate
// lets change (it compares the rest with apiequality.Semantic.DeepEqual).
// Kubernetes releases after 1.32 also accept revisionHistoryLimit; 1.32
// refuses it, so it is flagged, with that said.
var statefulSetMutable = map[string]bool{
	"replicas": true, "ordinals": true, "template": true, "updateStrategy": true,
	"persistentVolumeClaimRetentionPolicy": true, "minReadySeconds": true,
}

func statefulSetRefused(o, n tree.Doc) []refusal {
	os := object(o, "spec")
	ns := object(n, "spec")
	keys := map[string]bool{}
	for k := range os {
		keys[k] = true
	}
	for k := range ns {
		keys[k] = true
	}
	var out []refusal
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if statefulSetMutable[k] || semanticEqual[appsv1.StatefulSetSpec](k, os[k], ns[k]) {
			continue
		}
		switch k {
		case "selector":
			out = append(out, selectorRefusal(o, n, "spec", "selector")...)
		case "volumeClaimTemplates":
			out = append(out, claimTemplateRefusals(asList(os[k]), asList(ns[k]))...)
		case "revisionHistoryLimit":
			for _, r := range fieldRefusals(o, n, "spec", k) {
				r.why = "Kubernetes 1.32 and earlier; later releases accept it"
				out = append(out, r)
			}
		default:
			out = append(out, fieldRefusals(o, n, "spec", k)...)
		}
	}
	return out
}

// statefulSetRecreated: Flux deletes with propagation Background, so the
// pods go; the claims stay unless the retention policy deletes them.
func statefulSetRecreated(old tree.Doc) string {
	if str(old, "spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted") == "Delete" {
		return "its pods stop, and its claims are deleted with it (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete), and their data"
	}
	return "its pods stop and start again on the same claims (the claims and their data stay)"
}

// jobRefused: ValidateJobSpecUpdate — the selector, the pod template
// (validatePodTemplateUpdate: all of it, unless the Job is suspended and
// never started, which a Job Flux applies is not), completions (unless
// Indexed: validateCompletions), completionMode, podFailurePolicy,
// backoffLimitPerIndex, managedBy, successPolicy.
func jobRefused(o, n tree.Doc) []refusal {
	out := selectorRefusal(o, n, "spec", "selector")
	if ot, nt := field(o, "spec", "template"), field(n, "spec", "template"); !semanticEqual[batchv1.JobSpec]("template", ot, nt) {
		var leaves []Change
		leafChanges("", ot, nt, &leaves)
		var paths []string
		for _, c := range leaves {
			paths = append(paths, c.Path)
		}
		if len(paths) > 3 {
			paths = append(paths[:3], fmt.Sprintf("%d more", len(leaves)-3))
		}
		change := "spec.template changed"
		if len(paths) > 0 {
			change += " (" + strings.Join(paths, ", ") + ")"
		}
		out = append(out, refusal{change: change})
	}
	fields := []string{"completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"}
	if str(n, "spec", "completionMode") != "Indexed" {
		fields = append([]string{"completions"}, fields...)
	}
	for _, f := range fields {
		out = append(out, fieldRefusals(o, n, "spec", f)...)
	}
	return out
}

// serviceRefused: ValidateServiceUpdate with the server's own filling-in
// of what the manifest leaves out (pkg/registry/core/service/storage
// patchAllocatedValues keeps the allocated clusterIP(s) when the new
// object omits them, as long as neither side is ExternalName):
//
//   - nothing is refused to or from type ExternalName
//     (validateUpgradeDowngradeClusterIPs, …IPFamilies bail out);
//   - headless (clusterIP None) ↔ an allocated address: refused one way,
//     silently not done the other (the server keeps None);
//   - a declared clusterIP (primary of clusterIPs) or primary ipFamily
//     that differs: "may not change once set";
//   - loadBalancerClass while the type stays LoadBalancer
//     (validateLoadBalancerClassField).
func serviceRefused(o, n tree.Doc) []refusal {
	ot, nt := orDefault(str(o, "spec", "type"), "ClusterIP"), orDefault(str(n, "spec", "type"), "ClusterIP")
	if ot == "ExternalName" || nt == "ExternalName" {
		return nil
	}
	ip := func(d tree.Doc) string {
		if s := str(d, "spec", "clusterIP"); s != "" {
			return s
		}
		l := list(d, "spec", "clusterIPs")
		if len(l) > 0 {
			s, _ := l[0].(string)
			return s
		}
		return ""
	}
	oip, nip := ip(o), ip(n)
	var out []refusal
	switch {
	case oip == nip:
	case oip == "None" && nip == "":
		out = append(out, refusal{change: "spec.clusterIP None → (none)", why: "the API server keeps clusterIP None: the Service stays headless until recreated"})
	case nip == "":
		// The server keeps the address it had: no change.
	case oip == "":
		why := "the Service already has the address the cluster allocated"
		if nip == "None" {
			why = "a Service with an address cannot become headless"
		}
		out = append(out, refusal{change: fmt.Sprintf("spec.clusterIP (allocated) → %s", nip), why: why})
	default:
		out = append(out, refusal{change: fmt.Sprintf("spec.clusterIP %s → %s", oip, nip)})
	}
	if oip != "None" && nip != "None" {
		of := list(o, "spec", "ipFamilies")
		nf := list(n, "spec", "ipFamilies")
		if len(of) > 0 && len(nf) > 0 && of[0] != nf[0] {
			out = append(out, refusal{change: fmt.Sprintf("spec.ipFamilies[0] %s → %s", render(of[0]), render(nf[0])), why: "the primary IP family"})
		}
	}
	if ot == "LoadBalancer" && nt == "LoadBalancer" {
		out = append(out, fieldRefusals(o, n, "spec", "loadBalancerClass")...)
	}
	return out
}

// claimMutable are the spec fields of a bound claim that
// ValidatePersistentVolumeClaimUpdate lets change: resources.requests
// (storage, and only upwards) and volumeAttributesClassName. volumeName
// may be set once, while the claim is unbound; a running claim is bound.
func claimRefused(o, n tree.Doc) []refusal {
	var out []refusal
	os, ns := scalarString(field(o, "spec", "resources", "requests", "storage")), scalarString(field(n, "spec", "resources", "requests", "storage"))
	if os != ns && sizeChange(os, ns) == "shrink" {
		out = append(out, refusal{change: fmt.Sprintf("spec.resources.requests.storage %s → %s (shrink)", os, ns), why: "a claim cannot shrink"})
	}
	strip := func(d tree.Doc) any {
		spec := object(d, "spec")
		spec = maps.Clone(spec)
		delete(spec, "volumeAttributesClassName")
		if r := object(spec, "resources"); r != nil {
			r = maps.Clone(r)
			delete(r, "requests")
			spec["resources"] = r
		}
		return spec
	}
	var leaves []Change
	if os, ns := strip(o), strip(n); !semanticEqual[corev1.PersistentVolumeClaimSpec]("", os, ns) {
		leafChanges("spec", os, ns, &leaves)
	}
	for _, c := range leaves {
		r := refusal{change: describeLeaf(c)}
		if c.Path == "spec.storageClassName" && c.Old == nil {
			// On creation the DefaultStorageClass admission plugin wrote
			// the cluster's default class into the claim.
			r.why = "unless it is the default class the cluster gave the claim"
		}
		out = append(out, r)
	}
	return out
}

// immutableData: once a ConfigMap or Secret has immutable: true, its data
// and the flag itself cannot change.
func immutableData(o, n tree.Doc, fields ...string) []refusal {
	if field(o, "immutable") != true {
		return nil
	}
	var out []refusal
	for _, f := range append([]string{"immutable"}, fields...) {
		ov, nv := field(o, f), field(n, f)
		if reflect.DeepEqual(ov, nv) {
			continue
		}
		change := f + " changed"
		if f == "immutable" {
			change = "immutable true → " + render(nv)
		}
		out = append(out, refusal{change: change, why: "the object has immutable: true"})
	}
	return out
}

// sealedSecretRefused: the Secret's type (spec.template.type), and its
// data once spec.template.immutable is true.
func sealedSecretRefused(o, n tree.Doc) []refusal {
	var out []refusal
	ot, nt := orDefault(str(o, "spec", "template", "type"), "Opaque"), orDefault(str(n, "spec", "template", "type"), "Opaque")
	if ot != nt {
		out = append(out, refusal{change: fmt.Sprintf("spec.template.type %s → %s", ot, nt), why: "the controller's update of the Secret: its type is immutable"})
	}
	if field(o, "spec", "template", "immutable") == true {
		if !reflect.DeepEqual(field(o, "spec", "encryptedData"), field(n, "spec", "encryptedData")) {
			out = append(out, refusal{change: "spec.encryptedData changed", why: "the controller's update of the Secret: it has immutable: true"})
		}
		if field(n, "spec", "template", "immutable") != true {
			out = append(out, refusal{change: "spec.template.immutable true → " + render(field(n, "spec", "template", "immutable")), why: "the controller's update of the Secret: it has immutable: true"})
		}
	}
	return out
}

// fieldRefusals refuses every leaf change below parent.field, each printed
// as "path old → new".
func fieldRefusals(o, n tree.Doc, parent, name string) []refusal {
	path := []string{name}
	prefix := name
	if parent != "" {
		path = []string{parent, name}
		prefix = parent + "." + name
	}
	var leaves []Change
	leafChanges(prefix, field(o, path...), field(n, path...), &leaves)
	var out []refusal
	for _, c := range leaves {
		out = append(out, refusal{change: describeLeaf(c)})
	}
	return out
}

// describeLeaf prints one changed field as "path old → new", a storage
// size with whether it grows or shrinks.
func describeLeaf(c Change) string {
	s := fmt.Sprintf("%s %s → %s", c.Path, renderValue(c.Old), renderValue(c.New))
	if strings.HasSuffix(c.Path, "resources.requests.storage") {
		if d := sizeChange(scalarString(c.Old), scalarString(c.New)); d != "" {
			s += " (" + d + ")"
		}
	}
	return s
}

// sizeChange says whether a storage size grows or shrinks: "grow",
// "shrink", or "" when either is not a quantity or they are equal.
func sizeChange(old, new string) string {
	oq, err1 := resource.ParseQuantity(old)
	nq, err2 := resource.ParseQuantity(new)
	if err1 != nil || err2 != nil {
		return ""
	}
	switch nq.Cmp(oq) {
	case 1:
		return "grow"
	case -1:
		return "shrink"
	}
	return ""
}

// claimTemplateRefusals: any change of a StatefulSet's
// volumeClaimTemplates, template by template (matched by name), leaf by
// leaf, a size saying whether it grows or shrinks.
func claimTemplateRefusals(o, n []any) []refusal {
	index := func(l []any) map[string]any {
		m := map[string]any{}
		for _, e := range l {
			m[str(asObject(e), "metadata", "name")] = e
		}
		return m
	}
	om, nm := index(o), index(n)
	names := map[string]bool{}
	for k := range om {
		names[k] = true
	}
	for k := range nm {
		names[k] = true
	}
	var out []refusal
	for _, name := range slices.Sorted(maps.Keys(names)) {
		prefix := "spec.volumeClaimTemplates[metadata.name=" + name + "]"
		ot, nt := om[name], nm[name]
		switch {
		case semanticEqual[corev1.PersistentVolumeClaim]("", ot, nt):
		case ot == nil:
			out = append(out, refusal{change: prefix + " added (" + describeClaim(object(asObject(nt), "spec")) + ")"})
		case nt == nil:
			out = append(out, refusal{change: prefix + " removed (" + describeClaim(object(asObject(ot), "spec")) + ")"})
		default:
			var leaves []Change
			leafChanges(prefix, ot, nt, &leaves)
			for _, c := range leaves {
				out = append(out, refusal{change: describeLeaf(c)})
			}
		}
	}
	return out
}

// leafChanges is diffValue, except that a list of scalars (access modes,
// finalizers) is one change, printed whole, not one per index, and that a
// quantity of a resource list or a size limit spelled differently but
// equal (1Gi, 1073741824) is no change: the API server compares them by
// value (apiequality.Semantic).
func leafChanges(path string, a, b any, out *[]Change) {
	var all []Change
	leafChangesAll(path, a, b, &all)
	for _, c := range all {
		if quantityPath(c.Path) && quantityEqual(c.Old, c.New) {
			continue
		}
		*out = append(*out, c)
	}
}

func leafChangesAll(path string, a, b any, out *[]Change) {
	if reflect.DeepEqual(a, b) {
		return
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	switch {
	case aok && bok:
		for _, k := range slices.Sorted(maps.Keys(mapUnion(am, bm))) {
			leafChangesAll(join(path, k), am[k], bm[k], out)
		}
	case scalarList(a) || scalarList(b):
		*out = append(*out, Change{Path: path, Old: a, New: b})
	default:
		diffValue(path, a, b, out)
	}
}

func mapUnion(a, b map[string]any) map[string]any {
	m := maps.Clone(a)
	if m == nil {
		m = map[string]any{}
	}
	maps.Copy(m, b)
	return m
}

// scalarList says whether v is a non-empty list with no object or list in it.
func scalarList(v any) bool {
	l, ok := v.([]any)
	if !ok || len(l) == 0 {
		return false
	}
	for _, e := range l {
		switch e.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// renderValue prints a value for a message: a list of scalars as "a, b".
func renderValue(v any) string {
	if scalarList(v) {
		return joinList(v)
	}
	return render(v)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// semanticEqual says whether a and b, the raw values of the field (its
// JSON name) of an object of type T, are equal the way the API server's
// update validation compares them: decoded, with
// apiequality.Semantic.DeepEqual (quantities by value, 1Gi = 1073741824;
// a nil list or map the same as an empty one). With field "", a and b
// are the whole objects. A value that does not decode into T compares as
// raw data.
func semanticEqual[T any](field string, a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	decode := func(v any) (*T, bool) {
		t := new(T)
		if field != "" {
			v = map[string]any{field: v}
		}
		if v == nil {
			return t, true
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, t); err != nil {
			return nil, false
		}
		return t, true
	}
	ta, ok1 := decode(a)
	tb, ok2 := decode(b)
	if !ok1 || !ok2 {
		return false
	}
	return equality.Semantic.DeepEqual(ta, tb)
}

// quantityPath says whether a field path is a resource.Quantity of the
// objects compared here: an entry of resources.requests or
// resources.limits (a claim's or a container's), of a pod's overhead, or
// an emptyDir's sizeLimit.
func quantityPath(path string) bool {
	var parent, key string
	if strings.HasSuffix(path, "]") {
		i := strings.LastIndex(path, "[")
		if i < 0 {
			return false
		}
		parent, key = path[:i], path[i+1:len(path)-1]
	} else {
		i := strings.LastIndex(path, ".")
		parent, key = path[:max(i, 0)], path[i+1:]
	}
	if key == "sizeLimit" {
		return true
	}
	for _, p := range []string{"resources.requests", "resources.limits", "overhead"} {
		if parent == p || strings.HasSuffix(parent, "."+p) {
			return true
		}
	}
	return false
}

// quantityEqual says whether a and b are both quantities, and equal.
func quantityEqual(a, b any) bool {
	oq, err1 := resource.ParseQuantity(scalarString(a))
	nq, err2 := resource.ParseQuantity(scalarString(b))
	return err1 == nil && err2 == nil && oq.Cmp(nq) == 0
}

// scalarString is a string as it is and a number as YAML writes it: a
// quantity may be either (storage: 1073741824); "" for anything else.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}
