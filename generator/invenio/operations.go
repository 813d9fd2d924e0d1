package invenio

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// Operations: how the replicable workloads (web UI, REST API, frontend,
// worker) scale, spread and survive node drains.

// hostname is the topology key that spreads pods over nodes.
const hostname = "kubernetes.io/hostname"

// scaling completes the Deployment d of a replicable workload and returns
// the objects that come with it:
//
//   - its pods always prefer different nodes (a topology spread constraint
//     and a preferred anti-affinity, both soft: one node still runs them all);
//   - when it autoscales, a HorizontalPodAutoscaler owns the replica count and
//     the Deployment carries none, so Flux's apply never resets what the HPA
//     set (as the Kubernetes documentation recommends under an HPA);
//   - when it runs two pods or more, a PodDisruptionBudget lets one be
//     evicted at a time, so a drain never takes every pod and never blocks.
func (x env) scaling(c *component.Component, d *appsv1.Deployment, w config.Workload) []component.Object {
	sel := &metav1.LabelSelector{MatchLabels: x.meta.Selector(c)}
	spec := &d.Spec.Template.Spec
	spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: hostname, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel,
	}}
	spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: hostname, LabelSelector: sel},
		}},
	}}
	var objs []component.Object
	if w.Autoscaling.Enabled {
		d.Spec.Replicas = nil
		objs = append(objs, x.hpa(c, d, w.Autoscaling))
	}
	if w.Replicated() > 1 {
		objs = append(objs, x.pdb(c))
	}
	return objs
}

// hpa scales d on CPU and memory use relative to the requests. Scaling
// down waits for the stabilisation window and then removes one pod a
// minute, so uWSGI pods are not flapped.
func (x env) hpa(c *component.Component, d *appsv1.Deployment, a config.Autoscaling) *autoscalingv2.HorizontalPodAutoscaler {
	window, _ := time.ParseDuration(string(a.ScaleDownStabilization))
	utilisation := func(r corev1.ResourceName, pct config.Percent) autoscalingv2.MetricSpec {
		return autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
			Name: r, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(pct))}}}
	}
	return &autoscalingv2.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: x.meta.ObjectMeta(c, c.Name),
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: d.Name},
			MinReplicas:    ptr(int32(a.MinReplicas)),
			MaxReplicas:    int32(a.MaxReplicas),
			Metrics:        []autoscalingv2.MetricSpec{utilisation(corev1.ResourceCPU, a.CPU), utilisation(corev1.ResourceMemory, a.Memory)},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{
				StabilizationWindowSeconds: ptr(int32(window.Seconds())),
				Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}},
			}},
		},
	}
}

// pdb lets at most one pod of c be evicted at a time. maxUnavailable 1
// (rather than a minAvailable) stays right whatever the replica count or
// the HPA's current size, and never blocks a drain. Pods that are not
// ready may always be evicted: they serve nothing.
func (x env) pdb(c *component.Component) *policyv1.PodDisruptionBudget {
	one := intstr.FromInt32(1)
	always := policyv1.AlwaysAllow
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: x.meta.ObjectMeta(c, c.Name),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable:             &one,
			Selector:                   &metav1.LabelSelector{MatchLabels: x.meta.Selector(c)},
			UnhealthyPodEvictionPolicy: &always,
		},
	}
}

// Exporters: separate Deployments next to what they watch, so switching
// monitoring on or off never restarts a database. They use the
// credentials the application already has (the same Secret keys): a
// dedicated read-only role would be one more password to seal and rotate
// in every environment for a process that only reads statistics.

// exporterResources are the exporters' fixed, small sizes.
var exporterResources = config.Resources{
	Requests: config.CPUMemory{CPU: config.Q("10m"), Memory: config.Q("32Mi")},
	Limits:   config.CPUMemory{CPU: config.Q("200m"), Memory: config.Q("128Mi")},
}

// Component names of the exporters.
const (
	PostgresExporter = "postgresql-exporter"
	RedisExporter    = "redis-exporter"
)

// exporter is a Deployment running one exporter image that calls target.
func (x env) exporter(name, role string, img config.Image, port int32, call component.Call, uid int64, env []corev1.EnvVar, args []string) *component.Component {
	c := &component.Component{Name: name, Role: role, Layer: component.LayerData, HasPods: true,
		Version: string(img.Tag),
		Serves:  []component.Port{{Name: "metrics", Port: port}},
		Calls:   []component.Call{call},
		Metrics: []component.Metrics{{Port: "metrics", Path: "/metrics"}}}
	ctr := component.Container("exporter", img.Ref(), exporterResources)
	ctr.Ports = component.Ports(c)
	ctr.Env = env
	ctr.Args = args
	ctr.LivenessProbe = component.TCPProbe(liveness, "metrics")
	ctr.ReadinessProbe = component.TCPProbe(readiness, "metrics")
	spec := component.PodSpec(c, component.User{UID: uid, GID: uid}, []corev1.Container{ctr}, nil)
	c.Objects = []component.Object{x.deployment(c, 1, x.template(c, spec, nil), false)}
	return c
}

// postgresExporter is prometheus-community's postgres_exporter (pg_up and
// the pg_stat_* collectors), as the application's role.
func (x env) postgresExporter() *component.Component {
	db := x.e.Database
	return x.exporter(PostgresExporter, "database-metrics", x.e.Images.PostgresExporter, 9187,
		component.Call{To: PostgreSQL, Port: "postgresql"}, 65534, []corev1.EnvVar{
			component.Env("DATA_SOURCE_URI", fmt.Sprintf("%s:5432/%s?sslmode=disable", PostgreSQL, db.Name)),
			component.Env("DATA_SOURCE_USER", string(db.User)),
			component.SecretEnv("DATA_SOURCE_PASS", string(x.e.Secrets.PostgreSQL), PasswordKey),
		}, []string{"--web.listen-address=:9187"})
}

// redisExporter is oliver006/redis_exporter.
func (x env) redisExporter() *component.Component {
	return x.exporter(RedisExporter, "cache-metrics", x.e.Images.RedisExporter, 9121,
		component.Call{To: Redis, Port: "redis"}, 59000, []corev1.EnvVar{
			component.Env("REDIS_ADDR", fmt.Sprintf("redis://%s:6379", Redis)),
			component.SecretEnv("REDIS_PASSWORD", string(x.e.Secrets.Redis), PasswordKey),
		}, []string{"--web.listen-address=:9121"})
}

// nginxStatusPort is where the frontend's stub_status answers, on
// loopback only: nothing outside the pod can reach it.
const nginxStatusPort = 8081

// nginxExporter is the frontend's metrics sidecar: it reads stub_status on
// loopback and serves Prometheus metrics on 9113.
func (x env) nginxExporter(c *component.Component) corev1.Container {
	// First, like the container: a merge patch puts added list entries first.
	c.Serves = append([]component.Port{{Name: "metrics", Port: 9113}}, c.Serves...)
	c.Metrics = append(c.Metrics, component.Metrics{Port: "metrics", Path: "/metrics"})
	ctr := component.Container("metrics", x.e.Images.NginxExporter.Ref(), exporterResources)
	ctr.Args = []string{fmt.Sprintf("--nginx.scrape-uri=http://127.0.0.1:%d/stub_status", nginxStatusPort), "--web.listen-address=:9113"}
	ctr.Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9113, Protocol: corev1.ProtocolTCP}}
	ctr.LivenessProbe = component.TCPProbe(liveness, "metrics")
	ctr.ReadinessProbe = component.TCPProbe(readiness, "metrics")
	return ctr
}
