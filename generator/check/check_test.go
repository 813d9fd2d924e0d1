package check

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	psaapi "k8s.io/pod-security-admission/api"
	gwapiv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ---------------------------------------------------------------------
// Negative cases: each check catches a deliberately bad object.

// fixture is a small namespace that passes every check, including the
// upstream rules the platform deviates from: proof that each check can
// pass, and the base the negative cases break.
func fixture() []runtime.Object {
	const ns = "demo"
	no, yes := false, true
	uid := int64(1000)
	lbl := func(name string, version bool) map[string]string {
		l := map[string]string{labelName: name, labelInstance: name, labelComponent: "web", labelPartOf: "demo", labelManagedBy: "test"}
		if version {
			l[labelVersion] = "1.0"
		}
		return l
	}
	sel := func(name string) map[string]string { return map[string]string{labelName: name} }
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
	host := gwapiv1.Hostname("demo.example.org")
	httpsListener, httpListener := gwapiv1.SectionName("https"), gwapiv1.SectionName("http")
	port80 := gwapiv1.PortNumber(80)
	httpsScheme := "https"
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
		&gwapiv1.Gateway{TypeMeta: tm("gateway.networking.k8s.io/v1", "Gateway"), ObjectMeta: meta("app", lbl("app", false)),
			Spec: gwapiv1.GatewaySpec{GatewayClassName: "eg", Listeners: []gwapiv1.Listener{
				{Name: "https", Hostname: &host, Port: 443, Protocol: gwapiv1.HTTPSProtocolType,
					TLS: &gwapiv1.ListenerTLSConfig{CertificateRefs: []gwapiv1.SecretObjectReference{{Name: "demo-tls"}}}},
				{Name: "http", Hostname: &host, Port: 80, Protocol: gwapiv1.HTTPProtocolType},
			}}},
		&gwapiv1.HTTPRoute{TypeMeta: tm("gateway.networking.k8s.io/v1", "HTTPRoute"), ObjectMeta: meta("app", lbl("app", false)),
			Spec: gwapiv1.HTTPRouteSpec{CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: "app", SectionName: &httpsListener}}},
				Hostnames: []gwapiv1.Hostname{host},
				Rules:     []gwapiv1.HTTPRouteRule{{BackendRefs: []gwapiv1.HTTPBackendRef{{BackendRef: gwapiv1.BackendRef{BackendObjectReference: gwapiv1.BackendObjectReference{Name: "app", Port: &port80}}}}}}}},
		&gwapiv1.HTTPRoute{TypeMeta: tm("gateway.networking.k8s.io/v1", "HTTPRoute"), ObjectMeta: meta("app-redirect", lbl("app", false)),
			Spec: gwapiv1.HTTPRouteSpec{CommonRouteSpec: gwapiv1.CommonRouteSpec{ParentRefs: []gwapiv1.ParentReference{{Name: "app", SectionName: &httpListener}}},
				Hostnames: []gwapiv1.Hostname{host},
				Rules: []gwapiv1.HTTPRouteRule{{Filters: []gwapiv1.HTTPRouteFilter{{Type: gwapiv1.HTTPRouteFilterRequestRedirect,
					RequestRedirect: &gwapiv1.HTTPRequestRedirectFilter{Scheme: &httpsScheme}}}}}}},
	}
}

// routeOf is the fixture's HTTPRoute name.
func routeOf(o []runtime.Object, name string) *gwapiv1.HTTPRoute {
	for _, x := range o {
		if r, ok := x.(*gwapiv1.HTTPRoute); ok && r.Name == name {
			return r
		}
	}
	panic("fixture: no HTTPRoute " + name)
}

// gatewayOf is the fixture's Gateway.
func gatewayOf(o []runtime.Object) *gwapiv1.Gateway {
	for _, x := range o {
		if g, ok := x.(*gwapiv1.Gateway); ok {
			return g
		}
	}
	panic("fixture: no Gateway")
}

func fixtureBuild(mutate func(objs []runtime.Object) []runtime.Object) *Build {
	objs := fixture()
	if mutate != nil {
		objs = mutate(objs)
	}
	b := Index("fixture", objs)
	b.ListedSecrets = map[string]bool{"demo-secret": true}
	if b.Sealed == nil {
		b.Sealed = map[string]map[string]bool{"demo-secret": {"token": true, "tls.key": true}}
	}
	return b
}

// newHPA autoscales Deployment target of the fixture's namespace.
func newHPA(target string, min int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: target, Namespace: "demo"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MinReplicas: &min, MaxReplicas: min + 2,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: target}}}
}

// newServiceMonitor scrapes port of the Services matching sel.
func newServiceMonitor(sel map[string]string, port string) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{TypeMeta: metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "demo"},
		Spec: monitoringv1.ServiceMonitorSpec{Selector: metav1.LabelSelector{MatchLabels: sel},
			Endpoints: []monitoringv1.Endpoint{{Port: port, Path: "/metrics"}}}}
}

func deployOf(objs []runtime.Object) *appsv1.Deployment {
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			return d
		}
	}
	panic("fixture has no Deployment")
}

func jobOf(objs []runtime.Object) *batchv1.Job {
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok {
			return j
		}
	}
	panic("fixture has no Job")
}

// cronJobOf is a compliant CronJob running the fixture's Job, changed by
// mutate (the fixture itself has none: only the job-limits cases add one).
func cronJobOf(objs []runtime.Object, mutate func(*batchv1.CronJob)) *batchv1.CronJob {
	j := jobOf(objs).DeepCopy()
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

func mainOf(objs []runtime.Object) *corev1.Container {
	return &deployOf(objs).Spec.Template.Spec.Containers[0]
}

func without(objs []runtime.Object, drop func(runtime.Object) bool) []runtime.Object {
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
func TestFixturePasses(t *testing.T) {
	b := fixtureBuild(nil)
	for _, c := range Checks() {
		t.Run(c.ID, func(t *testing.T) {
			for _, f := range c.Run(b) {
				t.Errorf("compliant fixture: %s", f)
			}
		})
	}
}

// TestCheckCatchesBadObjects breaks the fixture once per case and asserts
// the named check reports it. Every check has at least one case.
func TestCatchesBadObjects(t *testing.T) {
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
		{"psa-restricted", "privileged container", edit(func(o []runtime.Object) { mainOf(o).SecurityContext.Privileged = &yes }), "privileged"},
		{"psa-restricted", "hostPath volume", edit(func(o []runtime.Object) {
			d := deployOf(o)
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}})
		}), "restricted volume types"},
		{"psa-restricted", "no seccomp", edit(func(o []runtime.Object) {
			d := deployOf(o)
			d.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
			d.Spec.Template.Spec.InitContainers[0].SecurityContext.SeccompProfile = nil
			mainOf(o).SecurityContext.SeccompProfile = nil
		}), "seccompProfile"},
		{"namespace-pod-security", "baseline namespace", edit(func(o []runtime.Object) {
			o[0].(*corev1.Namespace).Labels[psaapi.EnforceLevelLabel] = "baseline"
		}), "want restricted"},
		{"namespace-pod-security", "object in another namespace", edit(func(o []runtime.Object) { deployOf(o).Namespace = "elsewhere" }), "namespace \"elsewhere\""},
		{"service-selects-pods", "dangling service", edit(func(o []runtime.Object) {
			for _, x := range o {
				if s, ok := x.(*corev1.Service); ok {
					s.Spec.Selector[labelName] = "nothing"
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
		{"service-target-ports", "invalid port name", edit(func(o []runtime.Object) { mainOf(o).Ports[0].Name = "Not_A_Port_Name" }), "port name"},
		{"probe-ports", "probe on unexposed port", edit(func(o []runtime.Object) {
			mainOf(o).LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9999)}}}
		}), "liveness probe port 9999"},
		{"secret-references", "secret not listed", edit(func(o []runtime.Object) {
			mainOf(o).Env[1].ValueFrom.SecretKeyRef.Name = "rogue"
		}), "does not list"},
		{"secret-references", "key not sealed", edit(func(o []runtime.Object) {
			mainOf(o).Env[1].ValueFrom.SecretKeyRef.Key = "other"
		}), "demo-secret/other, which no SealedSecret of the build holds"},
		{"secret-references", "plaintext Secret", func(o []runtime.Object) []runtime.Object {
			return append(o, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "leak"}, StringData: map[string]string{"password": "hunter2"}})
		}, "only SealedSecrets belong in git"},
		{"secret-references", "whole secret via envFrom", edit(func(o []runtime.Object) {
			c := mainOf(o)
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "demo-secret"}}})
		}), "cannot be inventoried"},
		{"configmap-references", "missing ConfigMap", edit(func(o []runtime.Object) {
			mainOf(o).EnvFrom[0].ConfigMapRef.Name = "gone"
		}), "\"gone\" is not in the build"},
		{"configmap-references", "missing key", edit(func(o []runtime.Object) {
			mainOf(o).Env[2].ValueFrom.ConfigMapKeyRef.Key = "nokey"
		}), "no key \"nokey\""},
		{"pvc-references", "missing claim", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "gone"
		}), "\"gone\" is not in the build"},
		{"service-accounts", "missing ServiceAccount", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.ServiceAccountName = "ghost"
		}), "not a ServiceAccount of the build"},
		{"service-accounts", "deprecated field", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.DeprecatedServiceAccount = "app"
		}), "deprecated serviceAccount field"},
		{"service-accounts", "token automounted", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.AutomountServiceAccountToken = &yes
		}), "automountServiceAccountToken: true"},
		{"resources", "no cpu limit", edit(func(o []runtime.Object) { delete(mainOf(o).Resources.Limits, corev1.ResourceCPU) }), "no cpu limits"},
		{"resources", "init container without memory request", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.InitContainers[0].Resources.Requests = nil
		}), "container init has no memory requests"},
		{"probes", "no readiness probe", edit(func(o []runtime.Object) { mainOf(o).ReadinessProbe = nil }), "no readiness probe"},
		{"images", "latest tag", edit(func(o []runtime.Object) { mainOf(o).Image = "registry.example.org/app:latest" }), "latest tag"},
		{"images", "no tag", edit(func(o []runtime.Object) { mainOf(o).Image = "registry.example.org/app" }), "no tag"},
		{"images", "no pull policy", edit(func(o []runtime.Object) { mainOf(o).ImagePullPolicy = "" }), "no imagePullPolicy"},
		{"polaris/pullPolicyNotAlways", "IfNotPresent", edit(func(o []runtime.Object) { mainOf(o).ImagePullPolicy = corev1.PullIfNotPresent }), "IfNotPresent"},
		{"run-as-non-root", "runAsUser 0", edit(func(o []runtime.Object) {
			mainOf(o).SecurityContext.RunAsUser = &zero
			mainOf(o).SecurityContext.RunAsNonRoot = &no
		}), "runs as user 0"},
		{"read-only-root-fs", "writable root", edit(func(o []runtime.Object) { mainOf(o).SecurityContext.ReadOnlyRootFilesystem = &no }), "read-only root"},
		{"privilege", "privilege escalation", edit(func(o []runtime.Object) { mainOf(o).SecurityContext.AllowPrivilegeEscalation = &yes }), "allowPrivilegeEscalation"},
		{"capabilities", "NET_RAW kept", edit(func(o []runtime.Object) {
			mainOf(o).SecurityContext.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"CHOWN"}, Add: []corev1.Capability{"SYS_ADMIN"}}
		}), "does not drop ALL"},
		{"seccomp", "unconfined", edit(func(o []runtime.Object) {
			mainOf(o).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}), "seccomp"},
		{"host-access", "hostNetwork", edit(func(o []runtime.Object) { deployOf(o).Spec.Template.Spec.HostNetwork = true }), "hostNetwork"},
		{"host-access", "ssh port", edit(func(o []runtime.Object) {
			c := mainOf(o)
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: "ssh", ContainerPort: 22, HostPort: 2222})
		}), "port 22"},
		{"unsafe-sysctls", "net sysctl", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
		}), "unsafe sysctl"},
		{"env", "secret literal", edit(func(o []runtime.Object) {
			c := mainOf(o)
			c.Env = append(c.Env, corev1.EnvVar{Name: "DB_PASSWORD", Value: "hunter2"})
		}), "literal value"},
		{"env", "duplicate variable", edit(func(o []runtime.Object) {
			c := mainOf(o)
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
			deployOf(o).Spec.Template.Labels[labelName] = "other"
		}), "does not match"},
		{"api-versions", "extensions/v1beta1", edit(func(o []runtime.Object) {
			deployOf(o).TypeMeta = metav1.TypeMeta{APIVersion: "extensions/v1beta1", Kind: "Deployment"}
		}), "deprecated API"},
		{"kube-linter/no-anti-affinity", "replicated without anti-affinity", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Template.Spec.Affinity = nil
		}), "no inter-pod anti-affinity"},
		{"kube-linter/job-ttl-seconds-after-finished", "job without ttl", edit(func(o []runtime.Object) {
			jobOf(o).Spec.TTLSecondsAfterFinished = nil
		}), "ttlSecondsAfterFinished"},
		{"job-limits", "job without deadline", edit(func(o []runtime.Object) {
			jobOf(o).Spec.ActiveDeadlineSeconds = nil
		}), "no activeDeadlineSeconds"},
		{"job-limits", "overlapping cronjob", func(o []runtime.Object) []runtime.Object {
			return append(o, cronJobOf(o, func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent }))
		}, "want Forbid"},
		{"job-limits", "cronjob without starting deadline", func(o []runtime.Object) []runtime.Object {
			return append(o, cronJobOf(o, func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = nil }))
		}, "no startingDeadlineSeconds"},
		{"job-limits", "cronjob without history limits", func(o []runtime.Object) []runtime.Object {
			return append(o, cronJobOf(o, func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = nil }))
		}, "HistoryLimit"},
		{"job-limits", "cronjob without time zone", func(o []runtime.Object) []runtime.Object {
			return append(o, cronJobOf(o, func(cj *batchv1.CronJob) { cj.Spec.TimeZone = nil }))
		}, "no timeZone"},
		{"job-limits", "backup writes the uploaded files", func(o []runtime.Object) []runtime.Object {
			return append(o, cronJobOf(o, func(cj *batchv1.CronJob) {
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
			return append(o, newHPA("nothing", 2))
		}, "scaleTargetRef apps/v1 Deployment/nothing is not a workload"},
		{"operations-references", "PDB selecting nothing", edit(func(o []runtime.Object) {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					p.Spec.Selector.MatchLabels = map[string]string{labelName: "nothing"}
				}
			}
		}), "selects the pods of 0 workloads"},
		{"operations-references", "ServiceMonitor selecting no Service", func(o []runtime.Object) []runtime.Object {
			return append(o, newServiceMonitor(map[string]string{labelName: "nothing"}, "http"))
		}, "selects no Service"},
		{"operations-references", "ServiceMonitor on a port the Service lacks", func(o []runtime.Object) []runtime.Object {
			return append(o, newServiceMonitor(map[string]string{labelName: "app"}, "metrics"))
		}, `endpoint port "metrics" is not a port of Service/app`},
		{"pdb-hpa", "minAvailable equal to the HPA minimum", func(o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					two := intstr.FromInt32(2)
					p.Spec.MaxUnavailable, p.Spec.MinAvailable = nil, &two
				}
			}
			return append(o, newHPA("app", 2))
		}, "minAvailable 2 >= minReplicas 2"},
		{"pdb-hpa", "maxUnavailable 0% at the HPA minimum", func(o []runtime.Object) []runtime.Object {
			for _, x := range o {
				if p, ok := x.(*policyv1.PodDisruptionBudget); ok {
					pct := intstr.FromString("10%")
					p.Spec.MaxUnavailable = &pct
				}
			}
			return append(o, newHPA("app", 3))
		}, "maxUnavailable 10% allows no disruption at minReplicas 3"},
		{"polaris/missingPodDisruptionBudget", "no PDB", func(o []runtime.Object) []runtime.Object {
			return without(o, func(x runtime.Object) bool { _, ok := x.(*policyv1.PodDisruptionBudget); return ok })
		}, "no PodDisruptionBudget"},
		{"polaris/priorityClassNotSet", "no priority class", edit(func(o []runtime.Object) { deployOf(o).Spec.Template.Spec.PriorityClassName = "" }), "priorityClassName"},
		{"polaris/topologySpreadConstraint", "no spread", edit(func(o []runtime.Object) { deployOf(o).Spec.Template.Spec.TopologySpreadConstraints = nil }), "topologySpreadConstraints"},
		{"polaris/deploymentMissingReplicas", "one replica", edit(func(o []runtime.Object) { deployOf(o).Spec.Replicas = &one }), "replicas 1"},
		{"polaris/metadataAndInstanceMismatched", "instance differs", edit(func(o []runtime.Object) { deployOf(o).Labels[labelInstance] = "site" }), "is not metadata.name"},
		{"ingress-tls", "no TLS", edit(func(o []runtime.Object) {
			for _, x := range o {
				if i, ok := x.(*networkingv1.Ingress); ok {
					i.Spec.TLS = nil
				}
			}
		}), "no TLS"},
		{"gateway-tls", "no certificate", edit(func(o []runtime.Object) { gatewayOf(o).Spec.Listeners[0].TLS = nil }), "listener https has no certificate Secret"},
		{"gateway-tls", "no hostname", edit(func(o []runtime.Object) { gatewayOf(o).Spec.Listeners[0].Hostname = nil }), "listener https has no hostname"},
		{"gateway-tls", "no HTTPS listener", edit(func(o []runtime.Object) {
			g := gatewayOf(o)
			g.Spec.Listeners = g.Spec.Listeners[1:]
		}), "no HTTPS listener"},
		{"gateway-tls", "plain HTTP served", edit(func(o []runtime.Object) {
			http := gwapiv1.SectionName("http")
			routeOf(o, "app").Spec.ParentRefs[0].SectionName = &http
		}), "serves plain HTTP on listener http of Gateway/app"},
		{"route-references", "no such listener", edit(func(o []runtime.Object) {
			s := gwapiv1.SectionName("tls")
			routeOf(o, "app").Spec.ParentRefs[0].SectionName = &s
		}), "parentRef Gateway/app listener tls is not in the build"},
		{"route-references", "no such Service port", edit(func(o []runtime.Object) {
			p := gwapiv1.PortNumber(8080)
			routeOf(o, "app").Spec.Rules[0].BackendRefs[0].Port = &p
		}), "backendRef Service/app port 8080 is not in the build"},
		{"rbac", "a RoleBinding", func(o []runtime.Object) []runtime.Object {
			return append(o, &rbacv1.RoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: "admin", Namespace: "demo", Labels: map[string]string{}},
				RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}})
		}, "binds ClusterRole/cluster-admin: the platform grants no Kubernetes API access"},
		{"network-policies", "no default deny", func(o []runtime.Object) []runtime.Object {
			return without(o, func(x runtime.Object) bool {
				np, ok := x.(*networkingv1.NetworkPolicy)
				return ok && np.Name == "default-deny"
			})
		}, "no default-deny for Ingress"},
		{"network-policies", "pod without its own policy", func(o []runtime.Object) []runtime.Object {
			return without(o, func(x runtime.Object) bool {
				np, ok := x.(*networkingv1.NetworkPolicy)
				return ok && np.Name == "setup"
			})
		}, "Job/setup: no NetworkPolicy"},
		{"dangling-network-policy", "policy of a removed workload", edit(func(o []runtime.Object) {
			for _, x := range o {
				if np, ok := x.(*networkingv1.NetworkPolicy); ok && np.Name == "app" {
					np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{labelName: "gone"}}
				}
			}
		}), "selects no pod of the build"},
		{"hpa-owns-replicas", "replicas beside an autoscaler", func(o []runtime.Object) []runtime.Object {
			return append(o, newHPA("app", 2))
		}, "HorizontalPodAutoscaler/app owns the count"},
		{"polaris/missingNetworkPolicy", "policy without egress rules", edit(func(o []runtime.Object) {
			for _, x := range o {
				if np, ok := x.(*networkingv1.NetworkPolicy); ok && np.Name == "app" {
					np.Spec.Egress = nil
				}
			}
		}), "no egress rule"},
		{"labels", "missing part-of", edit(func(o []runtime.Object) { delete(deployOf(o).Labels, labelPartOf) }), "lacks label app.kubernetes.io/part-of"},
		{"labels", "template without version", edit(func(o []runtime.Object) { delete(deployOf(o).Spec.Template.Labels, labelVersion) }), "pod template lacks label app.kubernetes.io/version"},
		{"labels", "selector with component", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Selector.MatchLabels[labelComponent] = "web"
		}), "want exactly"},
		{"labels", "selector with instance", edit(func(o []runtime.Object) {
			deployOf(o).Spec.Selector.MatchLabels[labelInstance] = "app"
		}), "want exactly app.kubernetes.io/name"},
	}
	checks := map[string]Check{}
	for _, c := range Checks() {
		checks[c.ID] = c
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		c, ok := checks[tc.check]
		if !ok {
			t.Fatalf("case %q names unknown check %q", tc.name, tc.check)
		}
		covered[tc.check] = true
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			got := c.Run(fixtureBuild(tc.mutate))
			for _, f := range got {
				if strings.Contains(f.String(), tc.want) {
					return
				}
			}
			t.Errorf("%s did not report %q; it reported %v", tc.check, tc.want, got)
		})
	}
	for _, c := range Checks() {
		if !covered[c.ID] {
			t.Errorf("check %s has no negative case", c.ID)
		}
	}
}

// TestCheckStrictDecodeRejects: strict decoding catches unknown fields,
// misspelled fields, duplicate fields and unknown kinds.
func TestDecodeRejects(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n", "unknown field"},
		{"misspelled container field", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: c\n    image: i:1\n    imagePullPolcy: Always\n", "unknown field"},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n", "already set"},
		{"unknown kind", "apiVersion: example.org/v1\nkind: Widget\nmetadata:\n  name: x\n", "kind Widget of example.org/v1 is not a kind the checks know"},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: eighty\n", "port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.doc))
			if err == nil {
				t.Fatalf("decoded without error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := Decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\ndata:\n  a: b\n")); err != nil {
		t.Errorf("a valid ConfigMap failed strict decoding: %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite docs/manifest-checks.md")

// TestDocIsFresh keeps docs/manifest-checks.md what Doc derives from the
// checks and deviations.
func TestDocIsFresh(t *testing.T) {
	const file = "../../docs/manifest-checks.md"
	if *update {
		if err := os.WriteFile(file, []byte(Doc()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Doc(), string(got)); diff != "" {
		t.Errorf("docs/manifest-checks.md is stale; run `go test ./generator/check -update` (-want +got):\n%s", diff)
	}
}

// TestEveryCheckIsDescribed: an ID, a known family, a rationale and the
// upstream rule on every check; IDs and deviations name real checks.
func TestEveryCheckIsDescribed(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range Checks() {
		if c.ID == "" || c.Rationale == "" || c.Upstream == "" || c.Run == nil || !slices.Contains(Families, c.Family) {
			t.Errorf("check %+v lacks an ID, rationale, upstream rule, Run or known family", c)
		}
		if ids[c.ID] {
			t.Errorf("check ID %s twice", c.ID)
		}
		ids[c.ID] = true
	}
	for _, d := range Deviations {
		if !ids[d.Check] || d.Why == "" || d.Object == "" {
			t.Errorf("deviation %+v names no check of the registry or lacks an object or why", d)
		}
	}
}
