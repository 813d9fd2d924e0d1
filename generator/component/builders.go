package component

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"lbl.gov/invenio-gitops/generator/config"
)

// Meta holds the site-wide label values.
type Meta struct {
	Instance, PartOf, ManagedBy string
	Namespace                   string
}

// Labels are the recommended app.kubernetes.io labels of c's objects.
// The version label is only on what runs a version (VersionedLabels): on
// every object it would turn each image bump into a patch per object.
func (m Meta) Labels(c *Component) map[string]string {
	l := m.Selector(c)
	l["app.kubernetes.io/instance"] = m.Instance
	l["app.kubernetes.io/component"] = c.Role
	l["app.kubernetes.io/part-of"] = m.PartOf
	l["app.kubernetes.io/managed-by"] = m.ManagedBy
	return l
}

// VersionedLabels are Labels plus app.kubernetes.io/version, for
// workloads and their pods.
func (m Meta) VersionedLabels(c *Component) map[string]string {
	l := m.Labels(c)
	if c.Version != "" {
		l["app.kubernetes.io/version"] = c.Version
	}
	return l
}

// Selector selects c's pods (and Services, for a ServiceMonitor) within
// its namespace: {app.kubernetes.io/name: <component>}, and nothing else.
// Every selector the generator writes is this one — workloads' (immutable
// on Deployments and StatefulSets), StatefulSets' claim-template labels
// (immutable too), Services', NetworkPolicies', PodDisruptionBudgets',
// ServiceMonitors', spread and anti-affinity terms. The instance label
// (site.name) is on every object and pod but in no selector: an
// environment is a namespace holding one instance, so it would select
// nothing more, and it would make a rename of site.name a change the API
// server refuses on every workload (docs/decisions.md, "Selectors name
// the component only").
func (m Meta) Selector(c *Component) map[string]string {
	return map[string]string{"app.kubernetes.io/name": c.Name}
}

// ObjectMeta names an object of c.
func (m Meta) ObjectMeta(c *Component, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: m.Namespace, Labels: m.Labels(c)}
}

// ServiceAccount is c's own identity, with no API token mounted: no
// InvenioRDM part talks to the Kubernetes API.
func (m Meta) ServiceAccount(c *Component) *corev1.ServiceAccount {
	no := false
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   m.ObjectMeta(c, c.Name),
		AutomountServiceAccountToken: &no,
	}
}

// User is the uid/gid a pod runs as; images without a numeric USER need it
// spelled out for runAsNonRoot to be checkable.
type User struct{ UID, GID int64 }

// PodSpec is the restricted pod skeleton every workload shares.
func PodSpec(c *Component, u User, containers []corev1.Container, volumes []corev1.Volume) corev1.PodSpec {
	no, yes := false, true
	return corev1.PodSpec{
		ServiceAccountName:           c.Name,
		AutomountServiceAccountToken: &no,
		EnableServiceLinks:           &no, // service env vars leak every service of the namespace
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:        &yes,
			RunAsUser:           &u.UID,
			RunAsGroup:          &u.GID,
			FSGroup:             &u.GID,
			FSGroupChangePolicy: ptr(corev1.FSGroupChangeOnRootMismatch),
			SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: containers,
		Volumes:    volumes,
	}
}

func ptr[T any](v T) *T { return &v }

// Container is a container with the restricted security context, the given
// resources, and no way to write outside its volumes.
func Container(name, image string, r config.Resources) corev1.Container {
	no, yes := false, true
	return corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Resources:       Resources(r),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no,
			ReadOnlyRootFilesystem:   &yes,
			RunAsNonRoot:             &yes,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
}

// Resources converts the description's sizes.
func Resources(r config.Resources) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: r.Requests.CPU.Quantity, corev1.ResourceMemory: r.Requests.Memory.Quantity},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: r.Limits.CPU.Quantity, corev1.ResourceMemory: r.Limits.Memory.Quantity},
	}
}

// Ports turns c's served ports into container ports.
func Ports(c *Component) []corev1.ContainerPort {
	var ps []corev1.ContainerPort
	for _, p := range c.Serves {
		ps = append(ps, corev1.ContainerPort{Name: p.Name, ContainerPort: p.Port, Protocol: corev1.ProtocolTCP})
	}
	return ps
}

// Scratch is a writable emptyDir for a process that must write somewhere
// (the root filesystem is read-only). The size limit keeps a runaway
// process from filling the node.
func Scratch(name, size string) corev1.Volume {
	q := resource.MustParse(size)
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: &q}}}
}

// Mount mounts a volume.
func Mount(name, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path}
}

// ReadOnlyMount mounts a volume read-only.
func ReadOnlyMount(name, path string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: true}
}

// ConfigMapVolume mounts a ConfigMap's keys as files.
func ConfigMapVolume(name, configMap string, mode int32) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
		LocalObjectReference: corev1.LocalObjectReference{Name: configMap}, DefaultMode: &mode}}}
}

// SecretVolume mounts chosen keys of a Secret as files readable by the owner only.
func SecretVolume(name, secret string, keys ...string) corev1.Volume {
	mode := int32(0o400)
	var items []corev1.KeyToPath
	for _, k := range keys {
		items = append(items, corev1.KeyToPath{Key: k, Path: k})
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: secret, Items: items, DefaultMode: &mode}}}
}

// SecretEnv reads one key of a Secret into an environment variable.
func SecretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

// Env is a literal environment variable.
func Env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// Probe timings; slow starters get a startup probe on top.
type Timing struct{ Period, Timeout, Failures, InitialDelay int32 }

// ExecProbe runs a command in the container.
func ExecProbe(t Timing, cmd ...string) *corev1.Probe {
	return probe(t, corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}})
}

// HTTPProbe requests path on a named port.
func HTTPProbe(t Timing, path, port string) *corev1.Probe {
	return probe(t, corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(port), Scheme: corev1.URISchemeHTTP}})
}

// TCPProbe opens a connection to a named port.
func TCPProbe(t Timing, port string) *corev1.Probe {
	return probe(t, corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(port)}})
}

func probe(t Timing, h corev1.ProbeHandler) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: h, PeriodSeconds: t.Period, TimeoutSeconds: t.Timeout,
		FailureThreshold: t.Failures, InitialDelaySeconds: t.InitialDelay, SuccessThreshold: 1}
}
