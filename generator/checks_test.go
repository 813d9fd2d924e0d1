package generator

// Manifest checks: every environment of platform.yaml is built with
// kustomize in-process and the built objects are checked against the
// Pod Security Standards (restricted, latest), the default checks of
// kube-linter and Polaris restated as Go, and the repository's own rules
// (references resolve, labels, NetworkPolicies). docs/manifest-checks.md
// lists every upstream check, whether it is met and which check here
// enforces it.
//
// A deliberate deviation is never a silent skip: it is an entry of
// chkExceptions (check, object, why), its findings are logged as accepted,
// and an entry that no longer matches anything fails the run so the list
// cannot go stale. Every check also has a negative case
// (TestCheckCatchesBadObjects) proving it can fail.

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"
)

// ---------------------------------------------------------------------
// Findings and exceptions

// chkFinding is one violation: the object (Kind/name) and what is wrong.
type chkFinding struct{ Object, Detail string }

func (f chkFinding) String() string { return f.Object + ": " + f.Detail }

// chkException accepts the findings of one check on one object whose
// detail contains Contains. Object "*" means every object: used only for
// checks whose upstream rule the platform deliberately does not follow
// anywhere (docs/manifest-checks.md says why).
type chkException struct {
	Check, Object, Contains, Why string
}

// chkExceptions are the deliberate deviations; each is documented in
// docs/manifest-checks.md.
var chkExceptions = []chkException{
	// cert-manager labels its HTTP-01 solver pods itself; the policy that
	// lets the ingress controller reach them can only select that label.
	{Check: "labels", Object: "NetworkPolicy/allow-acme-http01-solver", Contains: "acme.cert-manager.io/http01-solver",
		Why: "cert-manager's solver pods carry only cert-manager's own label"},
	// Polaris pullPolicyNotAlways: every image is pinned to a version tag,
	// so IfNotPresent does not make every pod start depend on the registry.
	{Check: "polaris/pullPolicyNotAlways", Object: "*", Contains: "IfNotPresent",
		Why: "version-pinned tags: IfNotPresent keeps pod starts independent of the registry"},
	// Polaris priorityClassNotSet: no PriorityClass exists on the cluster yet.
	{Check: "polaris/priorityClassNotSet", Object: "*",
		Why: "no PriorityClass is defined for the cluster yet (cluster-scoped: would belong to infrastructure:)"},
	// Polaris topologySpreadConstraint and missingPodDisruptionBudget: the
	// replicable workloads (web-ui, web-api, frontend, worker) always
	// spread, and get a PodDisruptionBudget when they run two pods or
	// more; singletons (one pod: a budget could only block drains or allow
	// everything) and single-replica dev workloads have neither.
	{Check: "polaris/topologySpreadConstraint", Object: "*",
		Why: "single-instance workloads (data services, beat, tools, exporters) have nothing to spread"},
	{Check: "polaris/missingPodDisruptionBudget", Object: "*",
		Why: "a PodDisruptionBudget only for workloads running two pods or more (docs/operations.md)"},
	// Polaris deploymentMissingReplicas: dev runs one of everything (it
	// must fit the seed's 12 CPU / 30 GB), beat must never run twice, and
	// pgAdmin/dashboards are single-user operator tools.
	{Check: "polaris/deploymentMissingReplicas", Object: "*", Contains: "replicas 1",
		Why: "single replicas are sized choices (dev budget, beat singleton, operator tools)"},
	// Polaris metadataAndInstanceMismatched: app.kubernetes.io/instance
	// names the installation (site.name), as the Kubernetes recommended
	// labels define it, not each object.
	{Check: "polaris/metadataAndInstanceMismatched", Object: "*",
		Why: "app.kubernetes.io/instance is the installation (site.name), per the recommended labels"},
	// kube-linter job-ttl-seconds-after-finished: Flux owns the Job; a TTL
	// would delete it and Flux would re-create it, re-running setup.
	{Check: "kube-linter/job-ttl-seconds-after-finished", Object: "Job/invenio-setup",
		Why: "Flux re-applies a Job deleted by its TTL, which would re-run setup on every reconcile"},
	{Check: "kube-linter/job-ttl-seconds-after-finished", Object: "Job/opensearch-snapshot-repository",
		Why: "Flux re-applies a Job deleted by its TTL, which would re-register the repository on every reconcile"},
	// pgAdmin's python carries the NET_BIND_SERVICE file capability and
	// cannot start without it in the bounding set (pgadmin4 #5653). PSA
	// restricted allows exactly this one added capability.
	{Check: "capabilities", Object: "Deployment/pgadmin", Contains: "adds NET_BIND_SERVICE",
		Why: "pgAdmin image needs NET_BIND_SERVICE (pgadmin4 #5653); allowed by PSA restricted"},
	// Polaris missingNetworkPolicy asks for a policy with at least one
	// ingress and one egress rule. A component nobody calls has no ingress
	// rule, one that calls nothing no egress rule: with default-deny an
	// empty list denies everything, which is stricter than Polaris asks.
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/worker", Contains: "no ingress rule",
		Why: "nothing calls the worker: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/beat", Contains: "no ingress rule",
		Why: "nothing calls beat: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Job/invenio-setup", Contains: "no ingress rule",
		Why: "nothing calls the setup Job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/report-largest-files", Contains: "no ingress rule",
		Why: "nothing calls the report: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/dashboards", Contains: "no ingress rule",
		Why: "operators reach dashboards by port-forward only: pod ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Deployment/pgadmin", Contains: "no ingress rule",
		Why: "developers reach pgAdmin by port-forward only: pod ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-postgresql", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-files", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-opensearch", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "Job/opensearch-snapshot-repository", Contains: "no ingress rule",
		Why: "nothing calls a backup job: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/restore-check", Contains: "no ingress rule",
		Why: "nothing calls the restore check: ingress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "CronJob/backup-files", Contains: "no egress rule",
		Why: "with a volume target the files backup reaches nothing but DNS: egress stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/postgresql", Contains: "no egress rule",
		Why: "PostgreSQL calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/redis", Contains: "no egress rule",
		Why: "Redis calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/rabbitmq", Contains: "no egress rule",
		Why: "RabbitMQ calls nothing: egress (beyond DNS) stays denied"},
	{Check: "polaris/missingNetworkPolicy", Object: "StatefulSet/opensearch", Contains: "no egress rule",
		Why: "OpenSearch calls nothing: egress (beyond DNS) stays denied"},
}

func (e chkException) matches(check string, f chkFinding) bool {
	return e.Check == check && (e.Object == "*" || e.Object == f.Object) && strings.Contains(f.Detail, e.Contains)
}

// ---------------------------------------------------------------------
// Strict decoding

var chkScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, rbacv1.AddToScheme,
		ssv1alpha1.AddToScheme, monitoringv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

var chkSerializer = kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, chkScheme, chkScheme,
	kjson.SerializerOptions{Yaml: true, Strict: true})

// chkDecodeStrict decodes one YAML document into its k8s.io/api type,
// chosen by apiVersion/kind. Unknown kinds, unknown fields and duplicate
// fields are errors.
func chkDecodeStrict(doc []byte) (runtime.Object, error) {
	obj, gvk, err := chkSerializer.Decode(doc, nil, nil)
	if err != nil {
		if gvk != nil {
			return nil, fmt.Errorf("%s: %w", gvk, err)
		}
		return nil, err
	}
	return obj, nil
}

// ---------------------------------------------------------------------
// The indexed build of one environment

// chkPod is one pod template and the workload that owns it.
type chkPod struct {
	Kind, Name, Namespace string
	Labels                map[string]string // the workload's own labels
	Selector              *metav1.LabelSelector
	Replicas              *int32 // nil for Jobs
	Job                   *batchv1.JobSpec
	Template              corev1.PodTemplateSpec
}

func (p chkPod) ref() string { return p.Kind + "/" + p.Name }

// chkBuild is one environment's built objects, typed and indexed.
type chkBuild struct {
	Env             string
	Objects         []runtime.Object
	Pods            []chkPod
	Services        []*corev1.Service
	ConfigMaps      map[string]*corev1.ConfigMap
	PVCs            map[string]bool
	ServiceAccounts map[string]*corev1.ServiceAccount
	NetworkPolicies []*networkingv1.NetworkPolicy
	Namespaces      []*corev1.Namespace
	Ingresses       []*networkingv1.Ingress
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

func chkIndex(env string, objs []runtime.Object) *chkBuild {
	b := &chkBuild{Env: env, Objects: objs, ConfigMaps: map[string]*corev1.ConfigMap{}, PVCs: map[string]bool{},
		ServiceAccounts: map[string]*corev1.ServiceAccount{}}
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			b.Pods = append(b.Pods, chkPod{Kind: "Deployment", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Replicas: chkReplicas(x.Spec.Replicas), Template: x.Spec.Template})
		case *appsv1.StatefulSet:
			b.Pods = append(b.Pods, chkPod{Kind: "StatefulSet", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Replicas: chkReplicas(x.Spec.Replicas), Template: x.Spec.Template})
			for _, vct := range x.Spec.VolumeClaimTemplates {
				// Pods of a StatefulSet get <template>-<set>-<ordinal>;
				// a volume naming the template is satisfied by it.
				b.PVCs[vct.Name] = true
			}
		case *batchv1.Job:
			spec := x.Spec
			b.Pods = append(b.Pods, chkPod{Kind: "Job", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
				Selector: x.Spec.Selector, Job: &spec, Template: x.Spec.Template})
		case *batchv1.CronJob:
			spec := x.Spec.JobTemplate.Spec
			b.Pods = append(b.Pods, chkPod{Kind: "CronJob", Name: x.Name, Namespace: x.Namespace, Labels: x.Labels,
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

func chkReplicas(r *int32) *int32 {
	if r == nil {
		one := int32(1) // the API default
		return &one
	}
	return r
}

func chkRef(o runtime.Object) string {
	m, _ := o.(metav1.Object)
	return o.GetObjectKind().GroupVersionKind().Kind + "/" + m.GetName()
}

// chkContainers is every container of a pod, init containers first.
func chkContainers(spec *corev1.PodSpec) []corev1.Container {
	return append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
}

func chkIsInit(spec *corev1.PodSpec, name string) bool {
	for _, c := range spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------
// The checks

type chkCheck struct {
	Name     string
	Upstream string // the kube-linter / Polaris / PSA check(s) it restates
	Run      func(b *chkBuild) []chkFinding
}

var chkChecks = []chkCheck{
	{"psa-restricted", "Pod Security Standards restricted/latest", chkPSARestricted},
	{"namespace-pod-security", "PSA namespace labels", chkNamespacePodSecurity},
	{"service-selects-pods", "kube-linter dangling-service", chkServiceSelectsPods},
	{"service-target-ports", "kube-linter invalid-target-ports", chkTargetPortNames},
	{"probe-ports", "kube-linter liveness-port, readiness-port, startup-port", chkProbePorts},
	{"secret-references", "secret inventory", chkSecretReferences},
	{"configmap-references", "ConfigMap references resolve", chkConfigMapReferences},
	{"pvc-references", "PVC references resolve", chkPVCReferences},
	{"service-accounts", "kube-linter non-existent-service-account, deprecated-service-account-field; Polaris automountServiceAccountToken", chkServiceAccounts},
	{"resources", "kube-linter unset-cpu-requirements, unset-memory-requirements; Polaris cpu/memory requests/limits missing", chkResources},
	{"probes", "Polaris livenessProbeMissing, readinessProbeMissing", chkProbes},
	{"images", "kube-linter latest-tag; Polaris tagNotSpecified", chkImages},
	{"polaris/pullPolicyNotAlways", "Polaris pullPolicyNotAlways", chkPullPolicyAlways},
	{"run-as-non-root", "kube-linter run-as-non-root; Polaris runAsRootAllowed", chkRunAsNonRoot},
	{"read-only-root-fs", "kube-linter no-read-only-root-fs; Polaris notReadOnlyRootFilesystem", chkReadOnlyRootFS},
	{"privilege", "kube-linter privilege-escalation-container, privileged-container; Polaris privilegeEscalationAllowed, runAsPrivileged, procMount, hostProcess", chkPrivilege},
	{"capabilities", "kube-linter drop-net-raw-capability; Polaris dangerousCapabilities, insecureCapabilities", chkCapabilities},
	{"seccomp", "Polaris linuxHardening", chkSeccomp},
	{"host-access", "kube-linter host-network, host-pid, host-ipc, ssh-port, docker-sock, sensitive-host-mounts; Polaris hostNetworkSet, hostPIDSet, hostIPCSet, hostPortSet, hostPathSet", chkHostAccess},
	{"unsafe-sysctls", "kube-linter unsafe-sysctls", chkUnsafeSysctls},
	{"env", "kube-linter env-var-secret, duplicate-env-var; Polaris sensitiveContainerEnvVar", chkEnv},
	{"configmap-content", "Polaris sensitiveConfigmapContent", chkConfigMapContent},
	{"mismatching-selector", "kube-linter mismatching-selector", chkMismatchingSelector},
	{"api-versions", "kube-linter no-extensions-v1beta", chkAPIVersions},
	{"kube-linter/no-anti-affinity", "kube-linter no-anti-affinity", chkAntiAffinity},
	{"kube-linter/job-ttl-seconds-after-finished", "kube-linter job-ttl-seconds-after-finished", chkJobTTL},
	{"job-limits", "Jobs and CronJobs are bounded (backups: issue 7)", chkJobLimits},
	{"pdb", "kube-linter pdb-max-unavailable, pdb-min-available, pdb-unhealthy-pod-eviction-policy; Polaris pdbDisruptionsIsZero", chkPDBs},
	{"hpa", "Polaris hpaMinAvailability, hpaMaxAvailability", chkHPAs},
	{"operations-references", "HPA scaleTargetRef, PDB selector, ServiceMonitor selector and port resolve", chkOperationsReferences},
	{"pdb-hpa", "Polaris pdbMinAvailableGreaterThanHPAMinReplicas", chkPDBAgainstHPA},
	{"polaris/missingPodDisruptionBudget", "Polaris missingPodDisruptionBudget", chkMissingPDB},
	{"polaris/priorityClassNotSet", "Polaris priorityClassNotSet", chkPriorityClass},
	{"polaris/topologySpreadConstraint", "Polaris topologySpreadConstraint", chkTopologySpread},
	{"polaris/deploymentMissingReplicas", "Polaris deploymentMissingReplicas", chkDeploymentReplicas},
	{"polaris/metadataAndInstanceMismatched", "Polaris metadataAndInstanceMismatched", chkInstanceMatchesName},
	{"ingress-tls", "Polaris tlsSettingsMissing", chkIngressTLS},
	{"rbac", "Polaris RBAC checks (cluster-admin, pods/exec, pods/attach)", chkRBAC},
	{"network-policies", "default-deny plus one policy per pod", chkNetworkPolicies},
	{"polaris/missingNetworkPolicy", "Polaris missingNetworkPolicy", chkPolarisNetworkPolicy},
	{"labels", "app.kubernetes.io labels and selectors", chkLabels},
}

var chkPSAEvaluator = func() psapolicy.Evaluator {
	e, err := psapolicy.NewEvaluator(psapolicy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	return e
}()

// chkPSARestricted: every pod template passes restricted, version latest.
func chkPSARestricted(b *chkBuild) []chkFinding {
	var out []chkFinding
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	for _, p := range b.Pods {
		meta, spec := p.Template.ObjectMeta, p.Template.Spec
		for _, r := range chkPSAEvaluator.EvaluatePod(lv, &meta, &spec) {
			if !r.Allowed {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("restricted: %s (%s)", r.ForbiddenReason, r.ForbiddenDetail)})
			}
		}
	}
	return out
}

// chkNamespacePodSecurity: one Namespace, enforcing restricted, holding
// every namespaced object.
func chkNamespacePodSecurity(b *chkBuild) []chkFinding {
	var out []chkFinding
	if len(b.Namespaces) != 1 {
		return []chkFinding{{"Namespace", fmt.Sprintf("want exactly one Namespace in the build, have %d", len(b.Namespaces))}}
	}
	ns := b.Namespaces[0]
	if got := ns.Labels[psaapi.EnforceLevelLabel]; got != string(psaapi.LevelRestricted) {
		out = append(out, chkFinding{chkRef(ns), fmt.Sprintf("%s=%q, want restricted", psaapi.EnforceLevelLabel, got)})
	}
	if v, ok := ns.Labels[psaapi.EnforceVersionLabel]; ok && v != "latest" {
		out = append(out, chkFinding{chkRef(ns), fmt.Sprintf("%s=%q, want latest", psaapi.EnforceVersionLabel, v)})
	}
	for _, o := range b.Objects {
		m := o.(metav1.Object)
		if _, isNS := o.(*corev1.Namespace); !isNS && m.GetNamespace() != ns.Name {
			out = append(out, chkFinding{chkRef(o), fmt.Sprintf("namespace %q, want %q", m.GetNamespace(), ns.Name)})
		}
	}
	return out
}

// chkSelected returns the pods whose template labels a Service or
// NetworkPolicy selector selects, in the namespace.
func chkSelected(b *chkBuild, ns string, sel labels.Selector) []chkPod {
	var out []chkPod
	for _, p := range b.Pods {
		if p.Namespace == ns && sel.Matches(labels.Set(p.Template.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

// chkServiceSelectsPods: every Service selects a pod template (selector ⊆
// template labels), and every target port exists on every selected pod.
func chkServiceSelectsPods(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, s := range b.Services {
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		if len(s.Spec.Selector) == 0 {
			out = append(out, chkFinding{chkRef(s), "no selector"})
			continue
		}
		pods := chkSelected(b, s.Namespace, labels.SelectorFromSet(s.Spec.Selector))
		if len(pods) == 0 {
			out = append(out, chkFinding{chkRef(s), fmt.Sprintf("selector %v selects no pod template", s.Spec.Selector)})
		}
		for _, p := range pods {
			for _, sp := range s.Spec.Ports {
				tp := sp.TargetPort
				if tp.Type == intstr.Int && tp.IntVal == 0 {
					tp = intstr.FromInt32(sp.Port)
				}
				if !chkExposes(p.Template.Spec.Containers, tp, sp.Protocol) {
					out = append(out, chkFinding{chkRef(s), fmt.Sprintf("port %q: targetPort %s is not a container port of %s", sp.Name, tp.String(), p.ref())})
				}
			}
		}
	}
	return out
}

func chkExposes(cs []corev1.Container, port intstr.IntOrString, proto corev1.Protocol) bool {
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

// chkTargetPortNames: port names are IANA service names (RFC 6335).
func chkTargetPortNames(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			for _, cp := range c.Ports {
				if cp.Name == "" {
					continue
				}
				for _, v := range validation.IsValidPortName(cp.Name) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s port name %q: %s", c.Name, cp.Name, v)})
				}
			}
		}
	}
	for _, s := range b.Services {
		for _, sp := range s.Spec.Ports {
			if sp.TargetPort.Type == intstr.String {
				for _, v := range validation.IsValidPortName(sp.TargetPort.StrVal) {
					out = append(out, chkFinding{chkRef(s), fmt.Sprintf("targetPort %q: %s", sp.TargetPort.StrVal, v)})
				}
			} else if sp.TargetPort.IntVal != 0 {
				for _, v := range validation.IsValidPortNum(int(sp.TargetPort.IntVal)) {
					out = append(out, chkFinding{chkRef(s), fmt.Sprintf("targetPort %d: %s", sp.TargetPort.IntVal, v)})
				}
			}
		}
	}
	return out
}

// chkProbePorts: HTTP, TCP and gRPC probes target a port the container exposes.
func chkProbePorts(b *chkBuild) []chkFinding {
	var out []chkFinding
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
				if port != nil && !chkExposes([]corev1.Container{c}, *port, corev1.ProtocolTCP) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s: %s probe port %s is not exposed", c.Name, kind, port.String())})
				}
			}
		}
	}
	return out
}

// chkSecretInventory collects every Secret key the pods read: secret name
// → key → readers.
func chkSecretInventory(b *chkBuild) map[string]map[string][]string {
	inv := map[string]map[string][]string{}
	add := func(secret, key, by string) {
		if inv[secret] == nil {
			inv[secret] = map[string][]string{}
		}
		for _, r := range inv[secret][key] {
			if r == by {
				return
			}
		}
		inv[secret][key] = append(inv[secret][key], by)
	}
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					add(e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, p.ref())
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.SecretRef != nil {
					add(ef.SecretRef.Name, "*", p.ref())
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			if v.Secret != nil {
				if len(v.Secret.Items) == 0 {
					add(v.Secret.SecretName, "*", p.ref())
				}
				for _, it := range v.Secret.Items {
					add(v.Secret.SecretName, it.Key, p.ref())
				}
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.Secret != nil {
						for _, it := range src.Secret.Items {
							add(src.Secret.Name, it.Key, p.ref())
						}
						if len(src.Secret.Items) == 0 {
							add(src.Secret.Name, "*", p.ref())
						}
					}
				}
			}
		}
	}
	return inv
}

// chkSecretReferences: every Secret a pod reads is one the platform
// description lists, by name and key: a secretKeyRef names its key, a
// secret volume lists its items, and no envFrom imports a whole Secret
// (its keys could not be inventoried).
func chkSecretReferences(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, name := range b.PlainSecrets {
		out = append(out, chkFinding{"Secret/" + name, "a Secret with data in the repository: only SealedSecrets belong in git"})
	}
	inv := chkSecretInventory(b)
	for _, secret := range chkSortedKeys(inv) {
		for _, key := range chkSortedKeys(inv[secret]) {
			for _, by := range inv[secret][key] {
				switch {
				case secret == "":
					out = append(out, chkFinding{by, "reads a Secret without a name"})
				case key == "*":
					out = append(out, chkFinding{by, fmt.Sprintf("reads all of Secret %s (envFrom or a volume without items): its keys cannot be inventoried", secret)})
				case key == "":
					out = append(out, chkFinding{by, fmt.Sprintf("reads Secret %s without naming a key", secret)})
				}
				if b.ListedSecrets != nil && secret != "" && !b.ListedSecrets[secret] {
					out = append(out, chkFinding{by, fmt.Sprintf("reads Secret %s, which the environment's secrets: does not list", secret)})
				}
				if b.Sealed != nil && secret != "" && key != "" && key != "*" && !b.Sealed[secret][key] {
					out = append(out, chkFinding{by, fmt.Sprintf("reads %s/%s, which no SealedSecret of the build holds", secret, key)})
				}
			}
		}
	}
	return out
}

func chkSortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// chkConfigMapReferences: every configMapKeyRef, configMapRef and
// configMap volume names a ConfigMap of the build, and a named key exists.
func chkConfigMapReferences(b *chkBuild) []chkFinding {
	var out []chkFinding
	need := func(by, what, name string, keys ...string) {
		cm, ok := b.ConfigMaps[name]
		if !ok {
			out = append(out, chkFinding{by, fmt.Sprintf("%s: ConfigMap %q is not in the build", what, name)})
			return
		}
		for _, k := range keys {
			_, inData := cm.Data[k]
			_, inBinary := cm.BinaryData[k]
			if !inData && !inBinary {
				out = append(out, chkFinding{by, fmt.Sprintf("%s: ConfigMap %s has no key %q", what, name, k)})
			}
		}
	}
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && !chkOptional(e.ValueFrom.ConfigMapKeyRef.Optional) {
					need(p.ref(), "container "+c.Name+" env "+e.Name, e.ValueFrom.ConfigMapKeyRef.Name, e.ValueFrom.ConfigMapKeyRef.Key)
				}
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && !chkOptional(ef.ConfigMapRef.Optional) {
					need(p.ref(), "container "+c.Name+" envFrom", ef.ConfigMapRef.Name)
				}
			}
		}
		for _, v := range p.Template.Spec.Volumes {
			if v.ConfigMap != nil && !chkOptional(v.ConfigMap.Optional) {
				var keys []string
				for _, it := range v.ConfigMap.Items {
					keys = append(keys, it.Key)
				}
				need(p.ref(), "volume "+v.Name, v.ConfigMap.Name, keys...)
			}
			if v.Projected != nil {
				for _, src := range v.Projected.Sources {
					if src.ConfigMap != nil && !chkOptional(src.ConfigMap.Optional) {
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
		for _, c := range chkContainers(&p.Template.Spec) {
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

func chkOptional(b *bool) bool { return b != nil && *b }

// chkPVCReferences: every persistentVolumeClaim volume names a PVC of the
// build (or a volumeClaimTemplate of its StatefulSet).
func chkPVCReferences(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, v := range p.Template.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && !b.PVCs[v.PersistentVolumeClaim.ClaimName] {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("volume %s: PersistentVolumeClaim %q is not in the build", v.Name, v.PersistentVolumeClaim.ClaimName)})
			}
		}
		// Every mount names a volume of the pod.
		vols := map[string]bool{}
		for _, v := range p.Template.Spec.Volumes {
			vols[v.Name] = true
		}
		if p.Kind == "StatefulSet" {
			for pvc := range b.PVCs {
				vols[pvc] = vols[pvc] || chkHasVCT(b, p, pvc)
			}
		}
		for _, c := range chkContainers(&p.Template.Spec) {
			for _, m := range c.VolumeMounts {
				if !vols[m.Name] {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s mounts %q, which is not a volume of the pod", c.Name, m.Name)})
				}
			}
		}
	}
	return out
}

func chkHasVCT(b *chkBuild, p chkPod, name string) bool {
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

// chkServiceAccounts: every pod names its own ServiceAccount of the build
// (not default, not the deprecated field) and mounts no API token.
func chkServiceAccounts(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		s := p.Template.Spec
		if s.DeprecatedServiceAccount != "" && s.DeprecatedServiceAccount != s.ServiceAccountName {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("deprecated serviceAccount %q differs from serviceAccountName %q", s.DeprecatedServiceAccount, s.ServiceAccountName)})
		} else if s.DeprecatedServiceAccount != "" {
			out = append(out, chkFinding{p.ref(), "uses the deprecated serviceAccount field"})
		}
		sa, ok := b.ServiceAccounts[s.ServiceAccountName]
		switch {
		case s.ServiceAccountName == "" || s.ServiceAccountName == "default":
			out = append(out, chkFinding{p.ref(), "runs as the namespace's default ServiceAccount"})
		case !ok:
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("serviceAccountName %q is not a ServiceAccount of the build", s.ServiceAccountName)})
		}
		podOff := s.AutomountServiceAccountToken != nil && !*s.AutomountServiceAccountToken
		saOff := ok && sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken
		if s.AutomountServiceAccountToken != nil && *s.AutomountServiceAccountToken {
			out = append(out, chkFinding{p.ref(), "automountServiceAccountToken: true"})
		} else if !podOff && !saOff {
			out = append(out, chkFinding{p.ref(), "the ServiceAccount token is automounted (neither pod nor ServiceAccount sets automountServiceAccountToken: false)"})
		}
	}
	return out
}

// chkResources: cpu and memory requests and limits on every container.
func chkResources(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			for _, kind := range []struct {
				name string
				rl   corev1.ResourceList
			}{{"requests", c.Resources.Requests}, {"limits", c.Resources.Limits}} {
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					q, ok := kind.rl[r]
					if !ok || q.IsZero() {
						out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no %s %s", c.Name, r, kind.name)})
					}
				}
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
				if !req.IsZero() && !lim.IsZero() && req.Cmp(lim) > 0 {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s: %s request %s exceeds limit %s", c.Name, r, req.String(), lim.String())})
				}
			}
		}
	}
	return out
}

// chkProbes: liveness and readiness probes on every long-running
// container (init containers and Job pods excepted).
func chkProbes(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Job != nil {
			continue
		}
		for _, c := range p.Template.Spec.Containers {
			if c.LivenessProbe == nil {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no liveness probe", c.Name)})
			}
			if c.ReadinessProbe == nil {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no readiness probe", c.Name)})
			}
		}
	}
	return out
}

// kube-linter latest-tag's default block list, plus Polaris
// tagNotSpecified's pattern ^.+:.+$ (a digest also pins the image).
var chkImageBlockList = []*regexp.Regexp{
	regexp.MustCompile(`.*:(latest)$`),
	regexp.MustCompile(`^[^:]*$`),
	regexp.MustCompile(`(.*/[^:]+)$`),
}

// chkImages: pinned image tags (not latest, not missing) and an explicit
// imagePullPolicy.
func chkImages(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			pinned := strings.Contains(c.Image, "@sha256:")
			for _, re := range chkImageBlockList {
				if !pinned && re.MatchString(c.Image) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s image %q has no tag or the latest tag", c.Name, c.Image)})
					break
				}
			}
			if c.ImagePullPolicy == "" {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no imagePullPolicy", c.Name)})
			}
		}
	}
	return out
}

// chkPullPolicyAlways is Polaris pullPolicyNotAlways as written upstream.
func chkPullPolicyAlways(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			if c.ImagePullPolicy != corev1.PullAlways {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s imagePullPolicy %s, Polaris wants Always", c.Name, c.ImagePullPolicy)})
			}
		}
	}
	return out
}

// chkRunAsNonRoot is kube-linter's run-as-non-root: effective runAsUser
// > 0 or runAsNonRoot, and never group 0; plus runAsNonRoot must not be
// overridden to false.
func chkRunAsNonRoot(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		psc := p.Template.Spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range chkContainers(&p.Template.Spec) {
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			user, group, nonRoot := psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
			if sc.RunAsUser != nil {
				user = sc.RunAsUser
			}
			if sc.RunAsGroup != nil {
				group = sc.RunAsGroup
			}
			if sc.RunAsNonRoot != nil {
				nonRoot = sc.RunAsNonRoot
			}
			if group != nil && *group == 0 {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s runs as group 0", c.Name)})
			}
			if user != nil && *user == 0 {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s runs as user 0", c.Name)})
			}
			if nonRoot == nil || !*nonRoot {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s is not set to runAsNonRoot", c.Name)})
			}
		}
	}
	return out
}

func chkReadOnlyRootFS(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s does not have a read-only root filesystem", c.Name)})
			}
		}
	}
	return out
}

// chkPrivilege: allowPrivilegeEscalation explicitly false, not
// privileged, default procMount, no Windows host process.
func chkPrivilege(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if w := p.Template.Spec.SecurityContext; w != nil && w.WindowsOptions != nil && w.WindowsOptions.HostProcess != nil && *w.WindowsOptions.HostProcess {
			out = append(out, chkFinding{p.ref(), "pod is a Windows host process"})
		}
		for _, c := range chkContainers(&p.Template.Spec) {
			sc := c.SecurityContext
			if sc == nil {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no securityContext", c.Name)})
				continue
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s does not set allowPrivilegeEscalation: false", c.Name)})
			}
			if sc.Privileged != nil && *sc.Privileged {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s is privileged", c.Name)})
			}
			if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s procMount %s", c.Name, *sc.ProcMount)})
			}
			if sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s is a Windows host process", c.Name)})
			}
		}
	}
	return out
}

// chkCapabilities: every container drops ALL and adds nothing (each added
// capability is a finding; NET_BIND_SERVICE of pgAdmin is an exception).
func chkCapabilities(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			var caps corev1.Capabilities
			if c.SecurityContext != nil && c.SecurityContext.Capabilities != nil {
				caps = *c.SecurityContext.Capabilities
			}
			dropsAll := false
			for _, d := range caps.Drop {
				if strings.EqualFold(string(d), "ALL") {
					dropsAll = true
				}
			}
			if !dropsAll {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s does not drop ALL capabilities (drops %v)", c.Name, caps.Drop)})
			}
			for _, a := range caps.Add {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s adds %s", c.Name, strings.ToUpper(string(a)))})
			}
		}
	}
	return out
}

// chkSeccomp: RuntimeDefault (or Localhost) seccomp on the pod or every
// container, never Unconfined.
func chkSeccomp(b *chkBuild) []chkFinding {
	var out []chkFinding
	ok := func(s *corev1.SeccompProfile) bool {
		return s != nil && (s.Type == corev1.SeccompProfileTypeRuntimeDefault || s.Type == corev1.SeccompProfileTypeLocalhost)
	}
	for _, p := range b.Pods {
		var pod *corev1.SeccompProfile
		if p.Template.Spec.SecurityContext != nil {
			pod = p.Template.Spec.SecurityContext.SeccompProfile
		}
		for _, c := range chkContainers(&p.Template.Spec) {
			var ctr *corev1.SeccompProfile
			if c.SecurityContext != nil {
				ctr = c.SecurityContext.SeccompProfile
			}
			if (ctr != nil && !ok(ctr)) || (ctr == nil && !ok(pod)) {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has no RuntimeDefault/Localhost seccomp profile", c.Name)})
			}
		}
	}
	return out
}

// chkHostAccess: no host namespaces, host ports, port 22 or hostPath
// volumes at all (stricter than kube-linter's sensitive directories).
func chkHostAccess(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		s := p.Template.Spec
		for what, on := range map[string]bool{"hostNetwork": s.HostNetwork, "hostPID": s.HostPID, "hostIPC": s.HostIPC} {
			if on {
				out = append(out, chkFinding{p.ref(), what + " is set"})
			}
		}
		for _, v := range s.Volumes {
			if v.HostPath != nil {
				out = append(out, chkFinding{p.ref(), fmt.Sprintf("volume %s mounts host path %s", v.Name, v.HostPath.Path)})
			}
		}
		for _, c := range chkContainers(&s) {
			for _, cp := range c.Ports {
				if cp.HostPort != 0 {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s sets hostPort %d", c.Name, cp.HostPort)})
				}
				if cp.ContainerPort == 22 && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s exposes port 22 (SSH)", c.Name)})
				}
			}
		}
	}
	return out
}

// kube-linter unsafe-sysctls' default prefixes.
var chkUnsafeSysctlPrefixes = []string{"kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.", "net."}

func chkUnsafeSysctls(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Template.Spec.SecurityContext == nil {
			continue
		}
		for _, sc := range p.Template.Spec.SecurityContext.Sysctls {
			for _, pre := range chkUnsafeSysctlPrefixes {
				if strings.HasPrefix(sc.Name, pre) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("unsafe sysctl %s", sc.Name)})
				}
			}
		}
	}
	return out
}

// Literal environment variables whose names say they carry a secret
// (kube-linter env-var-secret's (?i).*secret.*; Polaris
// sensitiveContainerEnvVar's name patterns) and private keys in values.
var (
	chkSecretName = regexp.MustCompile(`(?i)secret|password|token|bearer|^AWS_SECRET_ACCESS_KEY$|^GOOGLE_APPLICATION_CREDENTIALS$|^AZURE_.+KEY$|^OCI_CLI_KEY_CONTENT$`)
	chkPrivateKey = regexp.MustCompile(`(?i)\s*-BEGIN\s+.*PRIVATE KEY-\s*`)
)

// chkEnv: no secret-looking literal values, no duplicate names.
func chkEnv(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		for _, c := range chkContainers(&p.Template.Spec) {
			seen := map[string]bool{}
			for _, e := range c.Env {
				if seen[e.Name] {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s sets %s twice", c.Name, e.Name)})
				}
				seen[e.Name] = true
				if e.Value != "" && chkSecretName.MatchString(e.Name) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s has a literal value for secret-looking variable %s", c.Name, e.Name)})
				}
				if chkPrivateKey.MatchString(e.Value) {
					out = append(out, chkFinding{p.ref(), fmt.Sprintf("container %s variable %s holds a private key", c.Name, e.Name)})
				}
			}
		}
	}
	return out
}

// chkConfigMapContent is Polaris sensitiveConfigmapContent: no
// secret-looking keys, no private keys in values.
func chkConfigMapContent(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, name := range chkSortedKeys(b.ConfigMaps) {
		cm := b.ConfigMaps[name]
		for _, k := range chkSortedKeys(cm.Data) {
			if chkSecretName.MatchString(k) {
				out = append(out, chkFinding{chkRef(cm), fmt.Sprintf("secret-looking key %s", k)})
			}
			if chkPrivateKey.MatchString(cm.Data[k]) {
				out = append(out, chkFinding{chkRef(cm), fmt.Sprintf("key %s holds a private key", k)})
			}
		}
	}
	return out
}

// chkMismatchingSelector: workload selectors match their template labels.
func chkMismatchingSelector(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Selector == nil || (len(p.Selector.MatchLabels) == 0 && len(p.Selector.MatchExpressions) == 0) {
			if p.Job == nil {
				out = append(out, chkFinding{p.ref(), "no selector"})
			}
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Selector)
		if err != nil {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("invalid selector: %v", err)})
			continue
		}
		if !sel.Matches(labels.Set(p.Template.Labels)) {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("selector %s does not match template labels %v", sel, p.Template.Labels)})
		}
	}
	return out
}

// chkAPIVersions: no extensions/v1beta* objects (strict decoding would
// already reject them: the scheme does not know the group).
func chkAPIVersions(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, o := range b.Objects {
		gvk := o.GetObjectKind().GroupVersionKind()
		if gvk.Group == "extensions" || strings.HasPrefix(gvk.Version, "v1beta") || strings.HasPrefix(gvk.Version, "v2beta") {
			out = append(out, chkFinding{chkRef(o), fmt.Sprintf("deprecated API %s", gvk.GroupVersion())})
		}
	}
	return out
}

// chkAntiAffinity is kube-linter no-anti-affinity: a workload with two or
// more replicas has a pod anti-affinity term on kubernetes.io/hostname
// whose selector matches its own pods.
func chkAntiAffinity(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Replicas == nil || *p.Replicas < 2 {
			continue
		}
		a := p.Template.Spec.Affinity
		var terms []corev1.PodAffinityTerm
		if a != nil && a.PodAntiAffinity != nil {
			terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
			for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
				terms = append(terms, w.PodAffinityTerm)
			}
		}
		good := false
		for _, t := range terms {
			sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
			if err == nil && t.TopologyKey == "kubernetes.io/hostname" && sel.Matches(labels.Set(p.Template.Labels)) {
				good = true
			}
		}
		if !good {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("%d replicas but no inter-pod anti-affinity on kubernetes.io/hostname", *p.Replicas)})
		}
	}
	return out
}

// chkJobLimits: every Job is bounded (backoffLimit, activeDeadlineSeconds);
// every CronJob never overlaps itself (concurrencyPolicy Forbid), gives up
// a missed start (startingDeadlineSeconds), keeps a bounded history, names
// its time zone, and mounts the uploaded files read-only (a backup must
// not be able to change what it backs up).
func chkJobLimits(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Job == nil {
			continue
		}
		if p.Job.BackoffLimit == nil {
			out = append(out, chkFinding{p.ref(), "no backoffLimit"})
		}
		if p.Job.ActiveDeadlineSeconds == nil {
			out = append(out, chkFinding{p.ref(), "no activeDeadlineSeconds: a hung run would hold its resources forever"})
		}
	}
	for _, o := range b.Objects {
		cj, ok := o.(*batchv1.CronJob)
		if !ok {
			continue
		}
		ref := chkRef(o)
		s := cj.Spec
		if s.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			out = append(out, chkFinding{ref, fmt.Sprintf("concurrencyPolicy %q, want Forbid", s.ConcurrencyPolicy)})
		}
		if s.StartingDeadlineSeconds == nil {
			out = append(out, chkFinding{ref, "no startingDeadlineSeconds"})
		}
		if s.SuccessfulJobsHistoryLimit == nil || s.FailedJobsHistoryLimit == nil {
			out = append(out, chkFinding{ref, "no successfulJobsHistoryLimit or failedJobsHistoryLimit"})
		}
		if s.TimeZone == nil {
			out = append(out, chkFinding{ref, "no timeZone: the schedule would follow the controller's local time"})
		}
		spec := s.JobTemplate.Spec.Template.Spec
		for _, v := range spec.Volumes {
			if v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "invenio-files" {
				continue
			}
			for _, c := range chkContainers(&spec) {
				for _, m := range c.VolumeMounts {
					if m.Name == v.Name && !m.ReadOnly && !v.PersistentVolumeClaim.ReadOnly {
						out = append(out, chkFinding{ref, fmt.Sprintf("container %s mounts the uploaded files read-write", c.Name)})
					}
				}
			}
		}
	}
	return out
}

// chkJobTTL is kube-linter job-ttl-seconds-after-finished.
func chkJobTTL(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		switch {
		case p.Kind == "Job" && p.Job.TTLSecondsAfterFinished == nil:
			out = append(out, chkFinding{p.ref(), "standalone Job does not set ttlSecondsAfterFinished"})
		case p.Kind == "CronJob" && p.Job.TTLSecondsAfterFinished != nil:
			out = append(out, chkFinding{p.ref(), "CronJob's Job sets ttlSecondsAfterFinished"})
		}
	}
	return out
}

// chkPDBs: a PodDisruptionBudget must allow disruptions and set
// unhealthyPodEvictionPolicy.
func chkPDBs(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, pdb := range b.PDBs {
		if mu := pdb.Spec.MaxUnavailable; mu != nil && (mu.String() == "0" || mu.String() == "0%") {
			out = append(out, chkFinding{chkRef(pdb), "maxUnavailable 0 prevents every disruption"})
		}
		if ma := pdb.Spec.MinAvailable; ma != nil {
			if ma.String() == "100%" {
				out = append(out, chkFinding{chkRef(pdb), "minAvailable 100% prevents every disruption"})
			}
			if ma.Type == intstr.Int {
				sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
				if err == nil {
					for _, p := range chkSelected(b, pdb.Namespace, sel) {
						if p.Replicas != nil && ma.IntVal >= *p.Replicas {
							out = append(out, chkFinding{chkRef(pdb), fmt.Sprintf("minAvailable %d >= %d replicas of %s", ma.IntVal, *p.Replicas, p.ref())})
						}
					}
				}
			}
		}
		if pdb.Spec.UnhealthyPodEvictionPolicy == nil {
			out = append(out, chkFinding{chkRef(pdb), "unhealthyPodEvictionPolicy not set"})
		}
	}
	return out
}

// chkHPAs: minReplicas >= 2 and maxReplicas > minReplicas.
func chkHPAs(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, h := range b.HPAs {
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		if min < 2 {
			out = append(out, chkFinding{chkRef(h), fmt.Sprintf("minReplicas %d < 2", min)})
		}
		if h.Spec.MaxReplicas <= min {
			out = append(out, chkFinding{chkRef(h), fmt.Sprintf("maxReplicas %d <= minReplicas %d", h.Spec.MaxReplicas, min)})
		}
	}
	return out
}

// chkOperationsReferences: every HorizontalPodAutoscaler scales a
// Deployment of the build (by apps/v1 kind and name, in its namespace);
// every PodDisruptionBudget selects the pods of exactly one workload; every
// ServiceMonitor selects a Service of its namespace that has each endpoint's
// port name.
func chkOperationsReferences(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, h := range b.HPAs {
		ref := h.Spec.ScaleTargetRef
		found := false
		for _, p := range b.Pods {
			if p.Kind == ref.Kind && p.Name == ref.Name && p.Namespace == h.Namespace && ref.APIVersion == "apps/v1" {
				found = true
			}
		}
		if !found {
			out = append(out, chkFinding{chkRef(h), fmt.Sprintf("scaleTargetRef %s %s/%s is not a workload of the build", ref.APIVersion, ref.Kind, ref.Name)})
		}
	}
	for _, pdb := range b.PDBs {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() {
			out = append(out, chkFinding{chkRef(pdb), "no usable selector"})
			continue
		}
		owners := map[string]bool{}
		for _, p := range chkSelected(b, pdb.Namespace, sel) {
			owners[p.ref()] = true
		}
		if len(owners) != 1 {
			out = append(out, chkFinding{chkRef(pdb), fmt.Sprintf("selector %v selects the pods of %d workloads, want exactly one", pdb.Spec.Selector.MatchLabels, len(owners))})
		}
	}
	for _, sm := range b.ServiceMonitors {
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		if err != nil || sel.Empty() {
			out = append(out, chkFinding{chkRef(sm), "no usable selector"})
			continue
		}
		var svcs []*corev1.Service
		for _, s := range b.Services {
			if s.Namespace == sm.Namespace && sel.Matches(labels.Set(s.Labels)) {
				svcs = append(svcs, s)
			}
		}
		if len(svcs) == 0 {
			out = append(out, chkFinding{chkRef(sm), fmt.Sprintf("selector %v selects no Service", sm.Spec.Selector.MatchLabels)})
		}
		for _, ep := range sm.Spec.Endpoints {
			for _, s := range svcs {
				has := false
				for _, p := range s.Spec.Ports {
					has = has || p.Name == ep.Port
				}
				if !has {
					out = append(out, chkFinding{chkRef(sm), fmt.Sprintf("endpoint port %q is not a port of %s", ep.Port, chkRef(s))})
				}
			}
		}
	}
	return out
}

// chkPDBAgainstHPA: a PodDisruptionBudget over autoscaled pods must allow
// a disruption at the HPA's minimum: minAvailable below minReplicas, or
// maxUnavailable at least 1.
func chkPDBAgainstHPA(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, h := range b.HPAs {
		min := int32(1)
		if h.Spec.MinReplicas != nil {
			min = *h.Spec.MinReplicas
		}
		for _, pdb := range b.PDBs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err != nil || pdb.Namespace != h.Namespace {
				continue
			}
			for _, p := range chkSelected(b, pdb.Namespace, sel) {
				if p.Kind != h.Spec.ScaleTargetRef.Kind || p.Name != h.Spec.ScaleTargetRef.Name {
					continue
				}
				if ma := pdb.Spec.MinAvailable; ma != nil {
					v, err := intstr.GetScaledValueFromIntOrPercent(ma, int(min), true)
					if err != nil || int32(v) >= min {
						out = append(out, chkFinding{chkRef(pdb), fmt.Sprintf("minAvailable %s >= minReplicas %d of %s: no pod could ever be evicted", ma.String(), min, chkRef(h))})
					}
				}
				if mu := pdb.Spec.MaxUnavailable; mu != nil {
					v, err := intstr.GetScaledValueFromIntOrPercent(mu, int(min), false)
					if err != nil || v < 1 {
						out = append(out, chkFinding{chkRef(pdb), fmt.Sprintf("maxUnavailable %s allows no disruption at minReplicas %d of %s", mu.String(), min, chkRef(h))})
					}
				}
			}
		}
	}
	return out
}

// chkMissingPDB is Polaris missingPodDisruptionBudget: every Deployment's
// pods are covered by a PodDisruptionBudget.
func chkMissingPDB(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Kind != "Deployment" {
			continue
		}
		covered := false
		for _, pdb := range b.PDBs {
			sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
			if err == nil && pdb.Namespace == p.Namespace && !sel.Empty() && sel.Matches(labels.Set(p.Template.Labels)) {
				covered = true
			}
		}
		if !covered {
			out = append(out, chkFinding{p.ref(), "no PodDisruptionBudget selects its pods"})
		}
	}
	return out
}

func chkPriorityClass(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Template.Spec.PriorityClassName == "" {
			out = append(out, chkFinding{p.ref(), "priorityClassName not set"})
		}
	}
	return out
}

func chkTopologySpread(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Job == nil && len(p.Template.Spec.TopologySpreadConstraints) == 0 {
			out = append(out, chkFinding{p.ref(), "no topologySpreadConstraints"})
		}
	}
	return out
}

func chkDeploymentReplicas(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if p.Kind == "Deployment" && *p.Replicas < 2 {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("replicas %d, Polaris wants at least 2", *p.Replicas)})
		}
	}
	return out
}

func chkInstanceMatchesName(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		if got := p.Labels["app.kubernetes.io/instance"]; got != p.Name {
			out = append(out, chkFinding{p.ref(), fmt.Sprintf("app.kubernetes.io/instance %q is not metadata.name %q", got, p.Name)})
		}
	}
	return out
}

// chkIngressTLS: every Ingress serves TLS for each of its hosts.
func chkIngressTLS(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, ing := range b.Ingresses {
		tls := map[string]bool{}
		for _, t := range ing.Spec.TLS {
			for _, h := range t.Hosts {
				tls[h] = true
			}
			if t.SecretName == "" {
				out = append(out, chkFinding{chkRef(ing), "TLS entry without secretName"})
			}
		}
		if len(ing.Spec.TLS) == 0 {
			out = append(out, chkFinding{chkRef(ing), "no TLS"})
		}
		for _, r := range ing.Spec.Rules {
			if !tls[r.Host] {
				out = append(out, chkFinding{chkRef(ing), fmt.Sprintf("host %q is not covered by TLS", r.Host)})
			}
		}
	}
	return out
}

// chkRBAC: the platform grants no Kubernetes API access, so the RBAC
// checks of Polaris have nothing to check; an RBAC object appearing is a
// finding so that they are reviewed.
func chkRBAC(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, o := range b.Objects {
		switch o.(type) {
		case *rbacv1.Role, *rbacv1.ClusterRole, *rbacv1.RoleBinding, *rbacv1.ClusterRoleBinding:
			out = append(out, chkFinding{chkRef(o), "RBAC object: review it against Polaris' RBAC checks and extend this check"})
		}
	}
	return out
}

func chkIsDefaultDeny(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(np.Spec.PodSelector.MatchLabels) != 0 || len(np.Spec.PodSelector.MatchExpressions) != 0 {
		return false, false
	}
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress && len(np.Spec.Ingress) == 0 {
			ingress = true
		}
		if t == networkingv1.PolicyTypeEgress && len(np.Spec.Egress) == 0 {
			egress = true
		}
	}
	return ingress, egress
}

// chkNetworkPolicies: the namespace denies all ingress and egress by
// default, and every pod is selected by at least one policy of its own
// (a non-empty podSelector) besides the namespace-wide ones.
func chkNetworkPolicies(b *chkBuild) []chkFinding {
	var out []chkFinding
	var denyIn, denyOut bool
	for _, np := range b.NetworkPolicies {
		i, e := chkIsDefaultDeny(np)
		denyIn, denyOut = denyIn || i, denyOut || e
	}
	if !denyIn {
		out = append(out, chkFinding{"NetworkPolicy", "no default-deny for Ingress (empty podSelector, policyTypes Ingress, no rules)"})
	}
	if !denyOut {
		out = append(out, chkFinding{"NetworkPolicy", "no default-deny for Egress (empty podSelector, policyTypes Egress, no rules)"})
	}
	for _, p := range b.Pods {
		selected := false
		for _, np := range b.NetworkPolicies {
			sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
			if err == nil && !sel.Empty() && np.Namespace == p.Namespace && sel.Matches(labels.Set(p.Template.Labels)) {
				selected = true
			}
		}
		if !selected {
			out = append(out, chkFinding{p.ref(), "no NetworkPolicy besides the namespace-wide ones selects its pods"})
		}
	}
	return out
}

// chkPolarisNetworkPolicy is Polaris missingNetworkPolicy: a policy whose
// matchLabels select the pod, with both policy types and at least one
// ingress and one egress rule (over all policies selecting the pod).
func chkPolarisNetworkPolicy(b *chkBuild) []chkFinding {
	var out []chkFinding
	for _, p := range b.Pods {
		var ingress, egress, selected bool
		for _, np := range b.NetworkPolicies {
			ml := np.Spec.PodSelector.MatchLabels
			if len(ml) == 0 || np.Namespace != p.Namespace || !labels.SelectorFromSet(ml).Matches(labels.Set(p.Template.Labels)) {
				continue
			}
			selected = true
			types := map[networkingv1.PolicyType]bool{}
			for _, t := range np.Spec.PolicyTypes {
				types[t] = true
			}
			ingress = ingress || (types[networkingv1.PolicyTypeIngress] && len(np.Spec.Ingress) > 0)
			egress = egress || (types[networkingv1.PolicyTypeEgress] && len(np.Spec.Egress) > 0)
		}
		switch {
		case !selected:
			out = append(out, chkFinding{p.ref(), "no NetworkPolicy matchLabels select its pods"})
		default:
			if !ingress {
				out = append(out, chkFinding{p.ref(), "no ingress rule in the NetworkPolicies selecting its pods"})
			}
			if !egress {
				out = append(out, chkFinding{p.ref(), "no egress rule in the NetworkPolicies selecting its pods"})
			}
		}
	}
	return out
}

// The recommended labels.
const (
	chkName      = "app.kubernetes.io/name"
	chkInstance  = "app.kubernetes.io/instance"
	chkComponent = "app.kubernetes.io/component"
	chkPartOf    = "app.kubernetes.io/part-of"
	chkManagedBy = "app.kubernetes.io/managed-by"
	chkVersion   = "app.kubernetes.io/version"
)

// chkLabels: every object carries the recommended labels; workloads and
// pod templates also the version; selectors use the name label only (an
// environment's namespace holds one instance, and an instance label in an
// immutable selector would make renaming site.name a change the API
// server refuses: docs/decisions.md, "Selectors name the component only").
func chkLabels(b *chkBuild) []chkFinding {
	var out []chkFinding
	need := func(ref, where string, l map[string]string, keys ...string) {
		for _, k := range keys {
			if l[k] == "" {
				out = append(out, chkFinding{ref, fmt.Sprintf("%s lacks label %s", where, k)})
			}
		}
	}
	selector := func(ref, where string, s *metav1.LabelSelector) {
		if s == nil || (len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0) {
			return // empty: selects everything (namespace-wide policies) or nothing to check
		}
		if len(s.MatchExpressions) != 0 {
			out = append(out, chkFinding{ref, where + " uses matchExpressions"})
		}
		keys := chkSortedKeys(s.MatchLabels)
		if !reflect.DeepEqual(keys, []string{chkName}) {
			out = append(out, chkFinding{ref, fmt.Sprintf("%s uses labels %v, want exactly %s", where, keys, chkName)})
		}
	}
	for _, o := range b.Objects {
		m := o.(metav1.Object)
		need(chkRef(o), "metadata", m.GetLabels(), chkName, chkInstance, chkComponent, chkPartOf, chkManagedBy)
		switch x := o.(type) {
		case *corev1.Service:
			if len(x.Spec.Selector) > 0 {
				selector(chkRef(o), "selector", &metav1.LabelSelector{MatchLabels: x.Spec.Selector})
			}
		case *networkingv1.NetworkPolicy:
			selector(chkRef(o), "podSelector", &x.Spec.PodSelector)
			var peers []networkingv1.NetworkPolicyPeer
			for _, r := range x.Spec.Ingress {
				peers = append(peers, r.From...)
			}
			for _, r := range x.Spec.Egress {
				peers = append(peers, r.To...)
			}
			for _, peer := range peers {
				// Peers in other namespaces (ingress controller, DNS) carry
				// their own labels.
				if peer.NamespaceSelector == nil && peer.PodSelector != nil {
					selector(chkRef(o), "peer podSelector", peer.PodSelector)
				}
			}
		}
	}
	for _, p := range b.Pods {
		need(p.ref(), "workload metadata", p.Labels, chkVersion)
		need(p.ref(), "pod template", p.Template.Labels, chkName, chkInstance, chkComponent, chkPartOf, chkManagedBy, chkVersion)
		if p.Job == nil || p.Selector != nil {
			selector(p.ref(), "selector", p.Selector)
		}
	}
	return out
}

// ---------------------------------------------------------------------
// Running the checks on every environment

// chkLoadEnv builds overlays/<env>, decodes every object strictly and
// indexes the result; decoding errors are returned, not fatal.
func chkLoadEnv(t *testing.T, built []byte, env string) (*chkBuild, []error) {
	t.Helper()
	var objs []runtime.Object
	var errs []error
	for i, doc := range splitDocs(built) {
		o, err := chkDecodeStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i, err))
			continue
		}
		objs = append(objs, o)
	}
	return chkIndex(env, objs), errs
}

// chkListedSecrets is every Secret name the environment's secrets: lists.
func chkListedSecrets(v any) map[string]bool {
	out := map[string]bool{}
	rv := reflect.ValueOf(v)
	for i := 0; i < rv.NumField(); i++ {
		if s := fmt.Sprint(rv.Field(i).Interface()); s != "" {
			out[s] = true
		}
	}
	return out
}

// chkApply runs one check and splits its findings into accepted
// (matched by an exception) and real ones; used records the exceptions hit.
func chkApply(c chkCheck, b *chkBuild, used map[int]bool) (real []chkFinding, accepted []string) {
	for _, f := range c.Run(b) {
		hit := false
		for i, e := range chkExceptions {
			if e.matches(c.Name, f) {
				used[i] = true
				hit = true
				accepted = append(accepted, fmt.Sprintf("%s (accepted: %s)", f, e.Why))
				break
			}
		}
		if !hit {
			real = append(real, f)
		}
	}
	return real, accepted
}

// TestCheckManifests runs every check on the kustomize build of every
// environment: strict decoding first, then one subtest per check.
func TestCheckManifests(t *testing.T) {
	p, tr := generate(t)
	used := map[int]bool{}
	ran := 0
	for _, e := range p.Environments {
		env := string(e.Name)
		t.Run(env, func(t *testing.T) {
			built, err := BuildYAML(tr, "overlays/"+env)
			if err != nil {
				t.Fatal(err)
			}
			b, errs := chkLoadEnv(t, built, env)
			b.ListedSecrets = chkListedSecrets(e.Secrets)
			t.Run("strict-decode", func(t *testing.T) {
				for _, err := range errs {
					t.Errorf("overlays/%s: %v", env, err)
				}
				// Guard against vacuous passes: the checks below need these.
				if len(b.Pods) == 0 || len(b.Services) == 0 || len(b.NetworkPolicies) == 0 || len(b.ServiceAccounts) == 0 {
					t.Fatalf("the build of %s has %d pod templates, %d Services, %d NetworkPolicies, %d ServiceAccounts: every check would pass vacuously",
						env, len(b.Pods), len(b.Services), len(b.NetworkPolicies), len(b.ServiceAccounts))
				}
			})
			if len(errs) > 0 {
				t.Fatalf("%d objects do not decode strictly; the other checks need typed objects", len(errs))
			}
			for _, c := range chkChecks {
				t.Run(c.Name, func(t *testing.T) {
					ran++
					real, accepted := chkApply(c, b, used)
					for _, a := range accepted {
						t.Logf("%s", a)
					}
					for _, f := range real {
						t.Errorf("overlays/%s: %s [%s]: %s", env, c.Name, c.Upstream, f)
					}
				})
			}
		})
	}
	// A stale exception hides nothing but misleads: fail when an exception
	// matched nothing although every environment ran every check.
	if ran == len(p.Environments)*len(chkChecks) && !t.Failed() {
		for i, e := range chkExceptions {
			if !used[i] {
				t.Errorf("exception %q on %s (%q) matched no finding in any environment: remove it from chkExceptions and docs/manifest-checks.md", e.Check, e.Object, e.Contains)
			}
		}
	}
}

// TestCheckSecretInventory logs every Secret key each environment reads
// (what the sealed secrets must supply) and fails when an environment
// reads none, which would mean the inventory walk is broken.
func TestCheckSecretInventory(t *testing.T) {
	p, tr := generate(t)
	for _, e := range p.Environments {
		env := string(e.Name)
		t.Run(env, func(t *testing.T) {
			built, err := BuildYAML(tr, "overlays/"+env)
			if err != nil {
				t.Fatal(err)
			}
			b, errs := chkLoadEnv(t, built, env)
			if len(errs) > 0 {
				t.Fatalf("strict decoding failed: %v", errs)
			}
			inv := chkSecretInventory(b)
			if len(inv) == 0 {
				t.Fatal("no Secret references found")
			}
			var lines []string
			for _, s := range chkSortedKeys(inv) {
				for _, k := range chkSortedKeys(inv[s]) {
					readers := append([]string(nil), inv[s][k]...)
					sort.Strings(readers)
					lines = append(lines, fmt.Sprintf("  %s/%s ← %s", s, k, strings.Join(readers, ", ")))
				}
			}
			t.Logf("Secret keys read in %s (%s):\n%s", env, e.Namespace, strings.Join(lines, "\n"))
		})
	}
}

// ---------------------------------------------------------------------
// Negative cases: each check catches a deliberately bad object.

// chkFixture is a small namespace that passes every check, including the
// upstream rules the platform deviates from: proof that each check can
// pass, and the base the negative cases break.
func chkFixture() []runtime.Object {
	const ns = "demo"
	no, yes := false, true
	uid := int64(1000)
	lbl := func(name string, version bool) map[string]string {
		l := map[string]string{chkName: name, chkInstance: name, chkComponent: "web", chkPartOf: "demo", chkManagedBy: "test"}
		if version {
			l[chkVersion] = "1.0"
		}
		return l
	}
	sel := func(name string) map[string]string { return map[string]string{chkName: name} }
	meta := func(name string, l map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l}
	}
	tm := func(apiVersion, kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
	}
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
	sc := func() *corev1.SecurityContext {
		return &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes, RunAsNonRoot: &yes,
			Capabilities:   &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	}
	podSpec := func(name string, probes bool) corev1.PodSpec {
		ctr := corev1.Container{Name: name, Image: "registry.example.org/" + name + ":1.0", ImagePullPolicy: corev1.PullAlways,
			Resources: res, SecurityContext: sc(),
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
			Env: []corev1.EnvVar{
				{Name: "MODE", Value: "demo"},
				{Name: "API_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-secret"}, Key: "token"}}},
				{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-config"}, Key: "level"}}},
			},
			EnvFrom:      []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-config"}}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "key", MountPath: "/key", ReadOnly: true}, {Name: "conf", MountPath: "/conf", ReadOnly: true}},
		}
		if probes {
			get := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}}
			ctr.LivenessProbe, ctr.ReadinessProbe = get, get
		}
		initCtr := corev1.Container{Name: "init", Image: "registry.example.org/init:1.0", ImagePullPolicy: corev1.PullAlways, Resources: res, SecurityContext: sc()}
		return corev1.PodSpec{
			ServiceAccountName: name, AutomountServiceAccountToken: &no, PriorityClassName: "standard",
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: sel(name)}}},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: sel(name)}}}}}},
			InitContainers: []corev1.Container{initCtr},
			Containers:     []corev1.Container{ctr},
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "demo-data"}}},
				{Name: "key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "demo-secret", Items: []corev1.KeyToPath{{Key: "tls.key", Path: "tls.key"}}}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-config"}}}},
			},
		}
	}
	two := int32(2)
	ttl := int32(600)
	backoff, deadline := int32(2), int64(3600)
	netpol := func(name string) *networkingv1.NetworkPolicy {
		port := intstr.FromInt32(8080)
		peer := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: sel("app")}}}
		return &networkingv1.NetworkPolicy{TypeMeta: tm("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta(name, lbl(name, false)),
			Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel(name)},
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: peer, Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}},
				Egress:      []networkingv1.NetworkPolicyEgressRule{{To: peer, Ports: []networkingv1.NetworkPolicyPort{{Port: &port}}}}}}
	}
	nsLabels := lbl("namespace", false)
	nsLabels[psaapi.EnforceLevelLabel] = "restricted"
	one := intstr.FromInt32(1)
	always := policyv1.AlwaysAllow
	prefix := networkingv1.PathTypePrefix
	return []runtime.Object{
		&corev1.Namespace{TypeMeta: tm("v1", "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: nsLabels}},
		&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: meta("app", lbl("app", false)), AutomountServiceAccountToken: &no},
		&corev1.ServiceAccount{TypeMeta: tm("v1", "ServiceAccount"), ObjectMeta: meta("setup", lbl("setup", false)), AutomountServiceAccountToken: &no},
		&corev1.ConfigMap{TypeMeta: tm("v1", "ConfigMap"), ObjectMeta: meta("demo-config", lbl("app", false)), Data: map[string]string{"level": "info"}},
		&corev1.PersistentVolumeClaim{TypeMeta: tm("v1", "PersistentVolumeClaim"), ObjectMeta: meta("demo-data", lbl("app", false))},
		&appsv1.Deployment{TypeMeta: tm("apps/v1", "Deployment"), ObjectMeta: meta("app", lbl("app", true)),
			Spec: appsv1.DeploymentSpec{Replicas: &two, Selector: &metav1.LabelSelector{MatchLabels: sel("app")},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl("app", true)}, Spec: podSpec("app", true)}}},
		&batchv1.Job{TypeMeta: tm("batch/v1", "Job"), ObjectMeta: meta("setup", lbl("setup", true)),
			Spec: batchv1.JobSpec{TTLSecondsAfterFinished: &ttl, BackoffLimit: &backoff, ActiveDeadlineSeconds: &deadline,
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: lbl("setup", true)}, Spec: podSpec("setup", false)}}},
		&corev1.Service{TypeMeta: tm("v1", "Service"), ObjectMeta: meta("app", lbl("app", false)),
			Spec: corev1.ServiceSpec{Selector: sel("app"), Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}}}},
		&networkingv1.NetworkPolicy{TypeMeta: tm("networking.k8s.io/v1", "NetworkPolicy"), ObjectMeta: meta("default-deny", lbl("namespace", false)),
			Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}}},
		netpol("app"),
		netpol("setup"),
		&policyv1.PodDisruptionBudget{TypeMeta: tm("policy/v1", "PodDisruptionBudget"), ObjectMeta: meta("app", lbl("app", false)),
			Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: sel("app")}, UnhealthyPodEvictionPolicy: &always}},
		&networkingv1.Ingress{TypeMeta: tm("networking.k8s.io/v1", "Ingress"), ObjectMeta: meta("app", lbl("app", false)),
			Spec: networkingv1.IngressSpec{TLS: []networkingv1.IngressTLS{{Hosts: []string{"demo.example.org"}, SecretName: "demo-tls"}},
				Rules: []networkingv1.IngressRule{{Host: "demo.example.org", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "app", Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}}}}}}},
	}
}

func chkFixtureBuild(mutate func(objs []runtime.Object) []runtime.Object) *chkBuild {
	objs := chkFixture()
	if mutate != nil {
		objs = mutate(objs)
	}
	b := chkIndex("fixture", objs)
	b.ListedSecrets = map[string]bool{"demo-secret": true}
	if b.Sealed == nil {
		b.Sealed = map[string]map[string]bool{"demo-secret": {"token": true, "tls.key": true}}
	}
	return b
}

// chkHPA autoscales Deployment target of the fixture's namespace.
func chkHPA(target string, min int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: "demo"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: min + 2,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target}}}
}

// chkServiceMonitor scrapes port of the Services matching sel.
func chkServiceMonitor(sel map[string]string, port string) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{TypeMeta: metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "demo"},
		Spec: monitoringv1.ServiceMonitorSpec{Selector: metav1.LabelSelector{MatchLabels: sel},
			Endpoints: []monitoringv1.Endpoint{{Port: port, Path: "/metrics"}}}}
}

func chkDeploy(objs []runtime.Object) *appsv1.Deployment {
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d
		}
	}
	panic("fixture has no Deployment")
}

func chkJob(objs []runtime.Object) *batchv1.Job {
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok {
			return j
		}
	}
	panic("fixture has no Job")
}

// chkCronJob is a compliant CronJob running the fixture's Job, changed by
// mutate (the fixture itself has none: only the job-limits cases add one).
func chkCronJob(objs []runtime.Object, mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	j := chkJob(objs).DeepCopy()
	j.Spec.TTLSecondsAfterFinished = nil
	start, keep, tz := int64(600), int32(3), "Etc/UTC"
	cj := &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: j.ObjectMeta,
		Spec: batchv1.CronJobSpec{Schedule: "0 2 * * *", TimeZone: &tz, ConcurrencyPolicy: batchv1.ForbidConcurrent,
			StartingDeadlineSeconds: &start, SuccessfulJobsHistoryLimit: &keep, FailedJobsHistoryLimit: &keep,
			JobTemplate: batchv1.JobTemplateSpec{Spec: j.Spec}}}
	cj.Name = "nightly"
	if mutate != nil {
		mutate(cj)
	}
	return cj
}

func chkMain(objs []runtime.Object) *corev1.Container {
	return &chkDeploy(objs).Spec.Template.Spec.Containers[0]
}

func chkWithout(objs []runtime.Object, drop func(runtime.Object) bool) []runtime.Object {
	var out []runtime.Object
	for _, o := range objs {
		if !drop(o) {
			out = append(out, o)
		}
	}
	return out
}

// TestCheckFixturePasses: the compliant fixture passes every check with no
// exception, so every check is satisfiable.
func TestCheckFixturePasses(t *testing.T) {
	b := chkFixtureBuild(nil)
	for _, c := range chkChecks {
		t.Run(c.Name, func(t *testing.T) {
			for _, f := range c.Run(b) {
				t.Errorf("compliant fixture: %s", f)
			}
		})
	}
}

// TestCheckCatchesBadObjects breaks the fixture once per case and asserts
// the named check reports it. Every check has at least one case.
func TestCheckCatchesBadObjects(t *testing.T) {
	yes, no := true, false
	zero := int64(0)
	one := int32(1)
	type mut = func([]runtime.Object) []runtime.Object
	edit := func(f func(objs []runtime.Object)) mut {
		return func(objs []runtime.Object) []runtime.Object { f(objs); return objs }
	}
	cases := []struct {
		check, name string
		mutate      mut
		want        string
	}{
		{"psa-restricted", "privileged container", edit(func(o []runtime.Object) { chkMain(o).SecurityContext.Privileged = &yes }), "privileged"},
		{"psa-restricted", "hostPath volume", edit(func(o []runtime.Object) {
			d := chkDeploy(o)
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
		}), "restricted volume types"},
		{"psa-restricted", "no seccomp", edit(func(o []runtime.Object) {
			d := chkDeploy(o)
			d.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			d.Spec.Template.Spec.InitContainers[0].SecurityContext.SeccompProfile = nil
			chkMain(o).SecurityContext.SeccompProfile = nil
		}), "seccompProfile"},
		{"namespace-pod-security", "baseline namespace", edit(func(o []runtime.Object) {
			o[0].(*corev1.Namespace).Labels[psaapi.EnforceLevelLabel] = "baseline"
		}), "want restricted"},
		{"namespace-pod-security", "object in another namespace", edit(func(o []runtime.Object) { chkDeploy(o).Namespace = "elsewhere" }), "namespace \"elsewhere\""},
		{"service-selects-pods", "dangling service", edit(func(o []runtime.Object) {
			for _, x := range o {
				if s, ok := x.(*corev1.Service); ok {
					s.Spec.Selector[chkName] = "nothing"
				}
			}
		}), "selects no pod template"},
		{"service-selects-pods", "unknown target port", edit(func(o []runtime.Object) {
			for _, x := range o {
				if s, ok := x.(*corev1.Service); ok {
					s.Spec.Ports[0].TargetPort = intstr.FromString("https")
				}
			}
		}), "targetPort https"},
		{"service-target-ports", "invalid port name", edit(func(o []runtime.Object) { chkMain(o).Ports[0].Name = "Not_A_Port_Name" }), "port name"},
		{"probe-ports", "probe on unexposed port", edit(func(o []runtime.Object) {
			chkMain(o).LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}}}
		}), "liveness probe port 9999"},
		{"secret-references", "secret not listed", edit(func(o []runtime.Object) {
			chkMain(o).Env[1].ValueFrom.SecretKeyRef.Name = "rogue"
		}), "does not list"},
		{"secret-references", "key not sealed", edit(func(o []runtime.Object) {
			chkMain(o).Env[1].ValueFrom.SecretKeyRef.Key = "other"
		}), "demo-secret/other, which no SealedSecret of the build holds"},
		{"secret-references", "plaintext Secret", func(o []runtime.Object) []runtime.Object {
			return append(o, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "leak"}, StringData: map[string]string{"password": "hunter2"}})
		}, "only SealedSecrets belong in git"},
		{"secret-references", "whole secret via envFrom", edit(func(o []runtime.Object) {
			c := chkMain(o)
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-secret"}}})
		}), "cannot be inventoried"},
		{"configmap-references", "missing ConfigMap", edit(func(o []runtime.Object) {
			chkMain(o).EnvFrom[0].ConfigMapRef.Name = "gone"
		}), "\"gone\" is not in the build"},
		{"configmap-references", "missing key", edit(func(o []runtime.Object) {
			chkMain(o).Env[2].ValueFrom.ConfigMapKeyRef.Key = "nokey"
		}), "no key \"nokey\""},
		{"pvc-references", "missing claim", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "gone"
		}), "\"gone\" is not in the build"},
		{"service-accounts", "missing ServiceAccount", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.ServiceAccountName = "ghost"
		}), "not a ServiceAccount of the build"},
		{"service-accounts", "deprecated field", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.DeprecatedServiceAccount = "app"
		}), "deprecated serviceAccount field"},
		{"service-accounts", "token automounted", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.AutomountServiceAccountToken = &yes
		}), "automountServiceAccountToken: true"},
		{"resources", "no cpu limit", edit(func(o []runtime.Object) { delete(chkMain(o).Resources.Limits, corev1.ResourceCPU) }), "no cpu limits"},
		{"resources", "init container without memory request", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.InitContainers[0].Resources.Requests = nil
		}), "container init has no memory requests"},
		{"probes", "no readiness probe", edit(func(o []runtime.Object) { chkMain(o).ReadinessProbe = nil }), "no readiness probe"},
		{"images", "latest tag", edit(func(o []runtime.Object) { chkMain(o).Image = "registry.example.org/app:latest" }), "latest tag"},
		{"images", "no tag", edit(func(o []runtime.Object) { chkMain(o).Image = "registry.example.org/app" }), "no tag"},
		{"images", "no pull policy", edit(func(o []runtime.Object) { chkMain(o).ImagePullPolicy = "" }), "no imagePullPolicy"},
		{"polaris/pullPolicyNotAlways", "IfNotPresent", edit(func(o []runtime.Object) { chkMain(o).ImagePullPolicy = corev1.PullIfNotPresent }), "IfNotPresent"},
		{"run-as-non-root", "runAsUser 0", edit(func(o []runtime.Object) {
			chkMain(o).SecurityContext.RunAsUser = &zero
			chkMain(o).SecurityContext.RunAsNonRoot = &no
		}), "runs as user 0"},
		{"read-only-root-fs", "writable root", edit(func(o []runtime.Object) { chkMain(o).SecurityContext.ReadOnlyRootFilesystem = &no }), "read-only root"},
		{"privilege", "privilege escalation", edit(func(o []runtime.Object) { chkMain(o).SecurityContext.AllowPrivilegeEscalation = &yes }), "allowPrivilegeEscalation"},
		{"capabilities", "NET_RAW kept", edit(func(o []runtime.Object) {
			chkMain(o).SecurityContext.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"CHOWN"}, Add: []corev1.Capability{"SYS_ADMIN"}}
		}), "does not drop ALL"},
		{"seccomp", "unconfined", edit(func(o []runtime.Object) {
			chkMain(o).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}), "seccomp"},
		{"host-access", "hostNetwork", edit(func(o []runtime.Object) { chkDeploy(o).Spec.Template.Spec.HostNetwork = true }), "hostNetwork"},
		{"host-access", "ssh port", edit(func(o []runtime.Object) {
			c := chkMain(o)
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: "ssh", ContainerPort: 22, HostPort: 2222})
		}), "port 22"},
		{"unsafe-sysctls", "net sysctl", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
		}), "unsafe sysctl"},
		{"env", "secret literal", edit(func(o []runtime.Object) {
			c := chkMain(o)
			c.Env = append(c.Env, corev1.EnvVar{Name: "DB_PASSWORD", Value: "hunter2"})
		}), "literal value"},
		{"env", "duplicate variable", edit(func(o []runtime.Object) {
			c := chkMain(o)
			c.Env = append(c.Env, corev1.EnvVar{Name: "MODE", Value: "again"})
		}), "sets MODE twice"},
		{"configmap-content", "password key", edit(func(o []runtime.Object) {
			for _, x := range o {
				if cm, ok := x.(*corev1.ConfigMap); ok {
					cm.Data["ADMIN_PASSWORD"] = "x"
				}
			}
		}), "secret-looking key"},
		{"mismatching-selector", "selector mismatch", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Labels[chkName] = "other"
		}), "does not match"},
		{"api-versions", "extensions/v1beta1", edit(func(o []runtime.Object) {
			chkDeploy(o).TypeMeta = metav1.TypeMeta{APIVersion: "extensions/v1beta1", Kind: "Deployment"}
		}), "deprecated API"},
		{"kube-linter/no-anti-affinity", "replicated without anti-affinity", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Template.Spec.Affinity = nil
		}), "no inter-pod anti-affinity"},
		{"kube-linter/job-ttl-seconds-after-finished", "job without ttl", edit(func(o []runtime.Object) {
			chkJob(o).Spec.TTLSecondsAfterFinished = nil
		}), "ttlSecondsAfterFinished"},
		{"job-limits", "job without deadline", edit(func(o []runtime.Object) {
			chkJob(o).Spec.ActiveDeadlineSeconds = nil
		}), "no activeDeadlineSeconds"},
		{"job-limits", "overlapping cronjob", func(o []runtime.Object) []runtime.Object {
			return append(o, chkCronJob(o, func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent }))
		}, "want Forbid"},
		{"job-limits", "cronjob without starting deadline", func(o []runtime.Object) []runtime.Object {
			return append(o, chkCronJob(o, func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = nil }))
		}, "no startingDeadlineSeconds"},
		{"job-limits", "cronjob without history limits", func(o []runtime.Object) []runtime.Object {
			return append(o, chkCronJob(o, func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = nil }))
		}, "HistoryLimit"},
		{"job-limits", "cronjob without time zone", func(o []runtime.Object) []runtime.Object {
			return append(o, chkCronJob(o, func(cj *batchv1.CronJob) { cj.Spec.TimeZone = nil }))
		}, "no timeZone"},
		{"job-limits", "backup writes the uploaded files", func(o []runtime.Object) []runtime.Object {
			return append(o, chkCronJob(o, func(cj *batchv1.CronJob) {
				spec := &cj.Spec.JobTemplate.Spec.Template.Spec
				spec.Volumes = append(spec.Volumes, corev1.Volume{Name: "files", VolumeSource: corev1.VolumeSource{
					PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "invenio-files"}}})
				spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "files", MountPath: "/data"})
			}))
		}, "mounts the uploaded files read-write"},
		{"pdb", "maxUnavailable 0", edit(func(o []runtime.Object) {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					z := intstr.FromInt32(0)
					p.Spec.MaxUnavailable = &z
				}
			}
		}), "maxUnavailable 0"},
		{"hpa", "single-replica HPA", func(o []runtime.Object) []runtime.Object {
			return append(o, &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
				ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "demo"}, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &one, MaxReplicas: 1}})
		}, "minReplicas 1 < 2"},
		{"operations-references", "HPA of a missing Deployment", func(o []runtime.Object) []runtime.Object {
			return append(o, chkHPA("nothing", 2))
		}, "scaleTargetRef apps/v1 Deployment/nothing is not a workload"},
		{"operations-references", "PDB selecting nothing", edit(func(o []runtime.Object) {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					p.Spec.Selector.MatchLabels = map[string]string{chkName: "nothing"}
				}
			}
		}), "selects the pods of 0 workloads"},
		{"operations-references", "ServiceMonitor selecting no Service", func(o []runtime.Object) []runtime.Object {
			return append(o, chkServiceMonitor(map[string]string{chkName: "nothing"}, "http"))
		}, "selects no Service"},
		{"operations-references", "ServiceMonitor on a port the Service lacks", func(o []runtime.Object) []runtime.Object {
			return append(o, chkServiceMonitor(map[string]string{chkName: "app"}, "metrics"))
		}, `endpoint port "metrics" is not a port of Service/app`},
		{"pdb-hpa", "minAvailable equal to the HPA minimum", func(o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					two := intstr.FromInt32(2)
					p.Spec.MaxUnavailable, p.Spec.MinAvailable = nil, &two
				}
			}
			return append(o, chkHPA("app", 2))
		}, "minAvailable 2 >= minReplicas 2"},
		{"pdb-hpa", "maxUnavailable 0% at the HPA minimum", func(o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					pct := intstr.FromString("10%")
					p.Spec.MaxUnavailable = &pct
				}
			}
			return append(o, chkHPA("app", 3))
		}, "maxUnavailable 10% allows no disruption at minReplicas 3"},
		{"polaris/missingPodDisruptionBudget", "no PDB", func(o []runtime.Object) []runtime.Object {
			return chkWithout(o, func(x runtime.Object) bool { _, ok := x.(*policyv1.PodDisruptionBudget); return ok })
		}, "no PodDisruptionBudget"},
		{"polaris/priorityClassNotSet", "no priority class", edit(func(o []runtime.Object) { chkDeploy(o).Spec.Template.Spec.PriorityClassName = "" }), "priorityClassName"},
		{"polaris/topologySpreadConstraint", "no spread", edit(func(o []runtime.Object) { chkDeploy(o).Spec.Template.Spec.TopologySpreadConstraints = nil }), "topologySpreadConstraints"},
		{"polaris/deploymentMissingReplicas", "one replica", edit(func(o []runtime.Object) { chkDeploy(o).Spec.Replicas = &one }), "replicas 1"},
		{"polaris/metadataAndInstanceMismatched", "instance differs", edit(func(o []runtime.Object) { chkDeploy(o).Labels[chkInstance] = "site" }), "is not metadata.name"},
		{"ingress-tls", "no TLS", edit(func(o []runtime.Object) {
			for _, x := range o {
				if i, ok := x.(*networkingv1.Ingress); ok {
					i.Spec.TLS = nil
				}
			}
		}), "no TLS"},
		{"rbac", "a RoleBinding", func(o []runtime.Object) []runtime.Object {
			return append(o, &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: "demo", Labels: map[string]string{}}})
		}, "RBAC object"},
		{"network-policies", "no default deny", func(o []runtime.Object) []runtime.Object {
			return chkWithout(o, func(x runtime.Object) bool {
				np, ok := x.(*networkingv1.NetworkPolicy)
				return ok && np.Name == "default-deny"
			})
		}, "no default-deny for Ingress"},
		{"network-policies", "pod without its own policy", func(o []runtime.Object) []runtime.Object {
			return chkWithout(o, func(x runtime.Object) bool {
				np, ok := x.(*networkingv1.NetworkPolicy)
				return ok && np.Name == "setup"
			})
		}, "Job/setup: no NetworkPolicy"},
		{"polaris/missingNetworkPolicy", "policy without egress rules", edit(func(o []runtime.Object) {
			for _, x := range o {
				if np, ok := x.(*networkingv1.NetworkPolicy); ok && np.Name == "app" {
					np.Spec.Egress = nil
				}
			}
		}), "no egress rule"},
		{"labels", "missing part-of", edit(func(o []runtime.Object) { delete(chkDeploy(o).Labels, chkPartOf) }), "lacks label app.kubernetes.io/part-of"},
		{"labels", "template without version", edit(func(o []runtime.Object) { delete(chkDeploy(o).Spec.Template.Labels, chkVersion) }), "pod template lacks label app.kubernetes.io/version"},
		{"labels", "selector with component", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Selector.MatchLabels[chkComponent] = "web"
		}), "want exactly"},
		{"labels", "selector with instance", edit(func(o []runtime.Object) {
			chkDeploy(o).Spec.Selector.MatchLabels[chkInstance] = "app"
		}), "want exactly app.kubernetes.io/name"},
	}
	checks := map[string]chkCheck{}
	for _, c := range chkChecks {
		checks[c.Name] = c
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		c, ok := checks[tc.check]
		if !ok {
			t.Fatalf("case %q names unknown check %q", tc.name, tc.check)
		}
		covered[tc.check] = true
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			got := c.Run(chkFixtureBuild(tc.mutate))
			for _, f := range got {
				if strings.Contains(f.String(), tc.want) {
					return
				}
			}
			t.Errorf("%s did not report %q; it reported %v", tc.check, tc.want, got)
		})
	}
	for _, c := range chkChecks {
		if !covered[c.Name] {
			t.Errorf("check %s has no negative case", c.Name)
		}
	}
}

// TestCheckStrictDecodeRejects: strict decoding catches unknown fields,
// misspelled fields, duplicate fields and unknown kinds.
func TestCheckStrictDecodeRejects(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n", "unknown field"},
		{"misspelled container field", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    image: i:1\n    imagePullPolcy: Always\n", "unknown field"},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n", "already set"},
		{"unknown kind", "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: x\n", "no kind"},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: eighty\n", "port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := chkDecodeStrict([]byte(tc.doc))
			if err == nil {
				t.Fatalf("decoded without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := chkDecodeStrict([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n")); err != nil {
		t.Errorf("a valid ConfigMap failed strict decoding: %v", err)
	}
}
