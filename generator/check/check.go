// Package check owns the manifest checks: the built objects of one
// environment (kustomize's build of overlays/<env>) are decoded strictly
// into their k8s.io/api types and checked against the Pod Security
// Standards (restricted, latest), the default checks of kube-linter and
// Polaris restated as Go, and the platform's own rules (references
// resolve, secrets are sealed, labels, NetworkPolicies, budgets).
//
// One file per family; each check has an ID, a one-line rationale and the
// upstream rule it restates (Checks). A deliberate deviation is never a
// silent skip: it is an entry of Deviations (check, object, why), listed
// in one place, and its findings are reported as accepted.
// docs/manifest-checks.md is generated from this package (Doc).
package check

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"
)

// Finding is one violation: the object (Kind/name) and what is wrong.
type Finding struct{ Object, Detail string }

func (f Finding) String() string { return f.Object + ": " + f.Detail }

// Deviation accepts the findings of one check on one object whose
// detail contains Contains. Object "*" means every object: used only for
// checks whose upstream rule the platform deliberately does not follow
// anywhere (docs/manifest-checks.md says why).
type Deviation struct {
	Check, Object, Contains, Why string
}

func (e Deviation) matches(check string, f Finding) bool {
	return e.Check == check && (e.Object == "*" || e.Object == f.Object) && strings.Contains(f.Detail, e.Contains)
}

// Pod is one pod template and the workload that owns it.
type Pod struct {
	Kind, Name, Namespace string
	Labels                map[string]string // the workload's own labels
	Selector              *metav1.LabelSelector
	Replicas              *int32 // nil for Jobs
	Job                   *batchv1.JobSpec
	Template              corev1.PodTemplateSpec
}

func (p Pod) ref() string { return p.Kind + "/" + p.Name }

// Build is one environment's built objects, typed and indexed.
type Build struct {
	Env             string
	Objects         []runtime.Object
	Pods            []Pod
	Deployments     []*appsv1.Deployment
	Services        []*corev1.Service
	ConfigMaps      map[string]*corev1.ConfigMap
	PVCs            map[string]bool
	ServiceAccounts map[string]*corev1.ServiceAccount
	NetworkPolicies []*networkingv1.NetworkPolicy
	Namespaces      []*corev1.Namespace
	Ingresses       []*networkingv1.Ingress
	Gateways        []*gwapiv1.Gateway
	HTTPRoutes      []*gwapiv1.HTTPRoute
	PDBs            []*policyv1.PodDisruptionBudget
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	ServiceMonitors []*monitoringv1.ServiceMonitor
	PrometheusRules []*monitoringv1.PrometheusRule
	// ListedSecrets are the Secret names the platform description lists
	// for the environment (secrets:); nil skips that part of the check.
	ListedSecrets map[string]bool
	// Sealed is every SealedSecret of the build: Secret name → the keys it
	// holds; nil when the build has none (fixtures).
	Sealed map[string]map[string]bool
	// PlainSecrets are Secrets in the build that carry data: never allowed.
	PlainSecrets []string
}

func Index(env string, objs []runtime.Object) *Build {
	b := &Build{Env: env, Objects: objs, ConfigMaps: map[string]*corev1.ConfigMap{}, PVCs: map[string]bool{},
		ServiceAccounts: map[string]*corev1.ServiceAccount{}}
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			b.Deployments = append(b.Deployments, x)
			b.Pods = append(b.Pods, Pod{Kind: "Deployment", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Replicas: defaultReplicas(x.Spec.Replicas), Template: x.Spec.Template})
		case *appsv1.StatefulSet:
			b.Pods = append(b.Pods, Pod{Kind: "StatefulSet", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Replicas: defaultReplicas(x.Spec.Replicas), Template: x.Spec.Template})
			for _, vct := range x.Spec.VolumeClaimTemplates {
				// Pods of a StatefulSet get <template>-<set>-<ordinal>;
				// a volume naming the template is satisfied by it.
				b.PVCs[vct.Name] = true
			}
		case *batchv1.Job:
			spec := x.Spec
			b.Pods = append(b.Pods, Pod{Kind: "Job", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Job: &spec, Template: x.Spec.Template})
		case *batchv1.CronJob:
			spec := x.Spec.JobTemplate.Spec
			b.Pods = append(b.Pods, Pod{Kind: "CronJob", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: spec.Selector, Job: &spec, Template: spec.Template})
		case *corev1.Service:
			b.Services = append(b.Services, x)
		case *corev1.ConfigMap:
			b.ConfigMaps[x.Name] = x
		case *corev1.PersistentVolumeClaim:
			b.PVCs[x.Name] = true
		case *corev1.ServiceAccount:
			b.ServiceAccounts[x.Name] = x
		case *networkingv1.NetworkPolicy:
			b.NetworkPolicies = append(b.NetworkPolicies, x)
		case *corev1.Namespace:
			b.Namespaces = append(b.Namespaces, x)
		case *networkingv1.Ingress:
			b.Ingresses = append(b.Ingresses, x)
		case *gwapiv1.Gateway:
			b.Gateways = append(b.Gateways, x)
		case *gwapiv1.HTTPRoute:
			b.HTTPRoutes = append(b.HTTPRoutes, x)
		case *policyv1.PodDisruptionBudget:
			b.PDBs = append(b.PDBs, x)
		case *autoscalingv2.HorizontalPodAutoscaler:
			b.HPAs = append(b.HPAs, x)
		case *monitoringv1.ServiceMonitor:
			b.ServiceMonitors = append(b.ServiceMonitors, x)
		case *monitoringv1.PrometheusRule:
			b.PrometheusRules = append(b.PrometheusRules, x)
		case *ssv1alpha1.SealedSecret:
			if b.Sealed == nil {
				b.Sealed = map[string]map[string]bool{}
			}
			keys := map[string]bool{}
			for k := range x.Spec.EncryptedData {
				keys[k] = true
			}
			b.Sealed[x.Name] = keys
		case *corev1.Secret:
			if len(x.Data)+len(x.StringData) > 0 {
				b.PlainSecrets = append(b.PlainSecrets, x.Name)
			}
		}
	}
	return b
}

func defaultReplicas(r *int32) *int32 {
	if r == nil {
		one := int32(1) // the API default
		return &one
	}
	return r
}

func refOf(o runtime.Object) string {
	m, _ := o.(metav1.Object)
	return o.GetObjectKind().GroupVersionKind().Kind + "/" + m.GetName()
}

// containers is every container of a pod, init containers first.
func containers(spec *corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
}

func isInit(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

type Check struct {
	ID        string // stable, as `platformctl check` and Deviations name it
	Family    string // the file of this package it lives in
	Rationale string // one line: why a cluster operator wants it
	Upstream  string // the kube-linter / Polaris / PSA check(s) it restates
	Run       func(b *Build) []Finding
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// selected returns the pods whose template labels a Service or
// NetworkPolicy selector selects, in the namespace.
func selected(b *Build, ns string, sel labels.Selector) []Pod {
	var out []Pod
	for _, p := range b.Pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Template.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func optional(b *bool) bool { return b != nil && *b }

// Families is the order the families run and are documented in.
var Families = []string{"pod-security", "references", "secrets", "workloads", "availability", "network", "rbac", "metadata"}

// Checks is every check, family by family.
func Checks() []Check {
	var out []Check
	for _, f := range [][]Check{podSecurityChecks, referencesChecks, secretsChecks, workloadsChecks,
		availabilityChecks, networkChecks, rbacChecks, metadataChecks} {
		out = append(out, f...)
	}
	return out
}

// Result is one finding of one check on one environment's build.
type Result struct {
	Env    string `json:"environment"`
	Check  string `json:"check"`
	Family string `json:"family"`
	// Object is Kind/name; File the generated file that defines it, when
	// the caller knows (Run leaves it empty).
	Object string `json:"object"`
	File   string `json:"file,omitempty"`
	// Patches are the patch files that change the object in this build.
	Patches []string `json:"patches,omitempty"`
	Detail  string   `json:"detail"`
	// Accepted is the Why of the deviation that accepts the finding; empty
	// for a real finding.
	Accepted string `json:"accepted,omitempty"`
}

// Report is the outcome of every check on one build.
type Report struct {
	Ran      int      // how many checks ran
	Findings []Result // real findings: each one fails `platformctl check`
	Accepted []Result // findings a deviation accepts
	// UsedDeviations are the indexes into Deviations that accepted a
	// finding: a deviation that never does, on a description enabling
	// every part, is stale.
	UsedDeviations map[int]bool
}

// Run runs every check (or only those whose ID or family is in only, when
// it is not empty) on b and splits the findings into real and accepted.
func Run(b *Build, only ...string) Report {
	r := Report{UsedDeviations: map[int]bool{}}
	for _, c := range Checks() {
		if len(only) > 0 && !slices.Contains(only, c.ID) && !slices.Contains(only, c.Family) {
			continue
		}
		r.Ran++
		for _, f := range c.Run(b) {
			res := Result{Env: b.Env, Check: c.ID, Family: c.Family, Object: f.Object, Detail: f.Detail}
			if i, ok := deviationFor(c.ID, f); ok {
				r.UsedDeviations[i] = true
				res.Accepted = Deviations[i].Why
				r.Accepted = append(r.Accepted, res)
				continue
			}
			r.Findings = append(r.Findings, res)
		}
	}
	return r
}

func deviationFor(check string, f Finding) (int, bool) {
	for i, d := range Deviations {
		if d.matches(check, f) {
			return i, true
		}
	}
	return 0, false
}

// DecodeError is a built document that does not decode strictly.
type DecodeError struct {
	Index  int    // the document's place in the stream, from 0
	Object string // Kind/name as far as the document says, "" when not even that
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Object != "" {
		return e.Object + ": " + e.Err.Error()
	}
	return fmt.Sprintf("document %d: %v", e.Index, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ObjectOf is Kind/name of a YAML document read loosely (no schema), ""
// when it has no kind or does not parse.
func ObjectOf(doc []byte) string {
	var m struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if yaml.Unmarshal(doc, &m) != nil || m.Kind == "" {
		return ""
	}
	return m.Kind + "/" + m.Metadata.Name
}

// Load decodes a built YAML stream strictly (Decode) and indexes it for
// env (kustomize's output: YAML documents separated by ---). Documents
// that do not decode (*DecodeError) are returned as errors, numbered from
// 0 in stream order; the other objects are still indexed.
func Load(env string, built []byte) (*Build, []error) {
	var objs []runtime.Object
	var errs []error
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(built)))
	for i := 0; ; {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Index(env, objs), append(errs, fmt.Errorf("document %d: %w", i, err))
		}
		if len(bytes.TrimSpace(doc)) == 0 || string(bytes.TrimSpace(doc)) == "---" {
			continue
		}
		i++
		o, err := Decode(doc)
		if err != nil {
			errs = append(errs, &DecodeError{Index: i - 1, Object: ObjectOf(doc), Err: err})
			continue
		}
		objs = append(objs, o)
	}
	return Index(env, objs), errs
}
