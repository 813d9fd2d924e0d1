// Package invenio owns the InvenioRDM v12 platform: one file per part
// (web, frontend, worker, beat, setup, postgresql, redis, rabbitmq,
// opensearch, dashboards, pgadmin, saml). Each builder is a pure function of
// one environment's resolved description and returns a Component; nothing
// here does I/O.
package invenio

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// Component names: each is also the name of the component's workload,
// Service, ServiceAccount and NetworkPolicy.
const (
	WebUI      = "web-ui"
	WebAPI     = "web-api"
	Frontend   = "frontend"
	Worker     = "worker"
	Beat       = "beat"
	Setup      = "setup"
	AppConfig  = "invenio-config"
	PostgreSQL = "postgresql"
	Redis      = "redis"
	RabbitMQ   = "rabbitmq"
	OpenSearch = "opensearch"
	Dashboards = "dashboards"
	PgAdmin    = "pgadmin"
	SAML       = "saml"
	Namespace  = "namespace"
)

// Paths inside the InvenioRDM image.
const (
	instancePath = "/opt/invenio/var/instance"
	filesPath    = instancePath + "/data"
	staticPath   = instancePath + "/static"
)

// The application image runs as user invenio (uid 1000).
var appUser = component.User{UID: 1000, GID: 1000}

// env is what every builder of one environment reads.
type env struct {
	meta component.Meta
	site config.Site
	e    *config.Environment
	o    Options
}

// Options is what a rendering needs besides the description.
type Options struct {
	// Sealed maps each Secret name to a digest of its sealed file in
	// secrets/<env>/ (generator.SealedDigests). Pod templates carry a
	// checksum of the ones they read, so a rotation restarts them. Nil
	// renders no checksum (base/ has none).
	Sealed map[string]string
	// Optional, when not nil, says which optional components to render
	// instead of the description's switches (SetOptional: the generator
	// renders base/ and each base/components/<name> with it).
	Optional map[string]bool
}

// Components builds every part of the platform for one environment, with
// optional parts included only where the environment (or o.Optional)
// switches them on.
func Components(site config.Site, e config.Environment, o Options) []*component.Component {
	x := env{
		meta: component.Meta{Instance: string(site.Name), PartOf: string(site.PartOf), ManagedBy: string(site.ManagedBy), Namespace: string(e.Namespace)},
		site: site,
		e:    &e,
		o:    o,
	}
	cs := []*component.Component{
		x.namespace(),
		x.postgresql(),
		x.redis(),
		x.rabbitmq(),
		x.opensearch(),
		x.appConfig(),
		x.web(WebUI),
		x.web(WebAPI),
		x.frontend(),
		x.worker(),
		x.beat(),
		x.setup(),
	}
	if x.on(Ingress) {
		cs = append(cs, x.ingress())
	}
	if x.on(Gateway) {
		cs = append(cs, x.gateway())
	}
	if x.on(RouteTLS) {
		cs = append(cs, x.routeTLS())
	}
	if x.on(Route) {
		cs = append(cs, x.route())
	}
	if e.Monitoring.Enabled {
		cs = append(cs, x.postgresExporter(), x.redisExporter())
	}
	if e.Reports.LargestFiles.Enabled {
		cs = append(cs, x.largestFilesReport())
	}
	if e.Workloads.Dashboards.On() {
		cs = append(cs, x.dashboards())
	}
	if e.Workloads.PgAdmin.On() {
		cs = append(cs, x.pgadmin())
	}
	if e.Auth.Mode == config.AuthSAML {
		cs = append(cs, x.saml())
	}
	if x.on(BackupPostgreSQL) {
		cs = append(cs, x.backupPostgreSQL())
	}
	if x.on(BackupFiles) {
		cs = append(cs, x.backupFiles())
	}
	if x.on(BackupOpenSearch) {
		cs = append(cs, x.backupOpenSearch())
	}
	if x.on(RestoreCheck) {
		cs = append(cs, x.restoreCheck())
	}
	if x.on(BackupVolume) {
		cs = append(cs, x.backupVolume())
	}
	if x.on(Restore) {
		cs = append(cs, x.restore())
	}
	return cs
}

// on reports whether the optional component name (an exposure or a backup
// part) is rendered: as the description says, or as SetOptional chose.
// The backup parts read each other's switches (the restore check checks what is backed up), so
// which of them are rendered must not change what each one contains:
// base/components/<name> are added up by kustomize.
func (x env) on(name string) bool {
	if x.o.Optional != nil {
		return x.o.Optional[name]
	}
	return Enabled(*x.e)[name]
}

// OptionalNames lists every optional component, whether or not on.
var OptionalNames = []string{Ingress, Gateway, Route, RouteTLS, Dashboards, PgAdmin, SAML, BackupPostgreSQL, BackupFiles, BackupOpenSearch, RestoreCheck, BackupVolume, Restore}

// backupNames are the optional components that make up the backups.
var backupNames = []string{BackupPostgreSQL, BackupFiles, BackupOpenSearch, RestoreCheck, BackupVolume, Restore}

// SetOptional returns e with the optional components in on switched on and
// all others off, and the options that render it so: the generator renders
// bases and component patches with them.
func SetOptional(e config.Environment, on map[string]bool) (config.Environment, Options) {
	t, f := true, false
	pick := func(n string) *bool {
		if on[n] {
			return &t
		}
		return &f
	}
	e.Workloads.Dashboards.Enabled = pick(Dashboards)
	e.Workloads.PgAdmin.Enabled = pick(PgAdmin)
	if on[SAML] {
		e.Auth.Mode = config.AuthSAML
		if e.Auth.SAML.IdP == "" { // placeholders for base/components/saml
			e.Auth.SAML.IdP = "idp"
			e.Auth.SAML.Title = "Single sign-on"
			e.Auth.SAML.MetadataURL = "https://idp.example.org/metadata"
			e.Auth.SAML.EgressCIDRs = []config.CIDR{"192.0.2.0/24"}
		}
	} else {
		e.Auth.Mode = config.AuthPassword
	}
	// The backup parts: rendered as on says, each with the same target
	// (an S3 placeholder unless defaults: has a bucket) and the same
	// switches, whichever others are on (see env.on).
	o := Options{Optional: map[string]bool{}}
	for _, n := range append([]string{Ingress, Gateway, Route, RouteTLS}, backupNames...) {
		o.Optional[n] = on[n]
	}
	if t := &e.Backup.Target; !t.IsS3() {
		t.S3 = config.S3Target{Endpoint: "https://s3.example.org", Bucket: "backups", Region: t.S3.Region,
			EgressCIDRs: []config.CIDR{"192.0.2.0/24"}}
	}
	return e, o
}

// Enabled reports the optional components e switches on.
func Enabled(e config.Environment) map[string]bool {
	return map[string]bool{
		Ingress:          e.Ingress.Exposure.Ingress(),
		Gateway:          e.Ingress.Exposure.Gateway(),
		Route:            e.Ingress.Exposure.Route(),
		RouteTLS:         e.Ingress.Exposure.Route(),
		Dashboards:       e.Workloads.Dashboards.On(),
		PgAdmin:          e.Workloads.PgAdmin.On(),
		SAML:             e.Auth.Mode == config.AuthSAML,
		BackupPostgreSQL: e.Backup.DatabaseOn(),
		BackupFiles:      e.Backup.FilesOn(),
		BackupOpenSearch: e.Backup.OpenSearchOn(),
		RestoreCheck:     e.Backup.RestoreCheckOn(),
		BackupVolume:     e.Backup.On() && e.Backup.Target.IsVolume(),
		Restore:          e.Backup.RestoreOn(),
	}
}

func (x env) typeMeta(kind string) metav1.TypeMeta {
	switch kind {
	case "Deployment", "StatefulSet":
		return metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}
	case "Job", "CronJob":
		return metav1.TypeMeta{APIVersion: "batch/v1", Kind: kind}
	case "Ingress", "NetworkPolicy":
		return metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: kind}
	}
	return metav1.TypeMeta{APIVersion: "v1", Kind: kind}
}

// configMap builds a ConfigMap owned by c.
func (x env) configMap(c *component.Component, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: x.typeMeta("ConfigMap"), ObjectMeta: x.meta.ObjectMeta(c, name), Data: data}
}

// checksum is a content hash of ConfigMaps a pod reads, put on its
// template so that a configuration change rolls the pods.
func checksum(cms ...*corev1.ConfigMap) string {
	h := sha256.New()
	for _, cm := range cms {
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		h.Write([]byte(cm.Name + "\x00"))
		for _, k := range keys {
			h.Write([]byte(k + "\x00" + cm.Data[k] + "\x00"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// template is a pod template of c carrying its labels.
func (x env) template(c *component.Component, spec corev1.PodSpec, annotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: x.meta.VersionedLabels(c), Annotations: annotations},
		Spec:       spec,
	}
}

// secretsChecksum stamps a pod template with a digest of the sealed data
// of every Secret its pods read, so that sealing a new value (a rotation)
// changes the template and rolls the pods: a running pod never sees a new
// Secret value in its environment. Jobs are left alone (their template is
// immutable and a changed one would re-run them).
func (x env) secretsChecksum(tpl *corev1.PodTemplateSpec) {
	read := map[string]bool{}
	for _, cs := range [][]corev1.Container{tpl.Spec.InitContainers, tpl.Spec.Containers} {
		for _, ctr := range cs {
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					read[e.ValueFrom.SecretKeyRef.Name] = true
				}
			}
		}
	}
	for _, v := range tpl.Spec.Volumes {
		if v.Secret != nil {
			read[v.Secret.SecretName] = true
		}
	}
	var lines []string
	for name := range read {
		if d, ok := x.o.Sealed[name]; ok {
			lines = append(lines, name+"="+d)
		}
	}
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	if tpl.Annotations == nil {
		tpl.Annotations = map[string]string{}
	}
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	tpl.Annotations["checksum/secrets"] = hex.EncodeToString(sum[:])
}

// deployment runs c's pods.
func (x env) deployment(c *component.Component, replicas config.Replicas, tpl corev1.PodTemplateSpec, recreate bool) *appsv1.Deployment {
	x.secretsChecksum(&tpl)
	r := int32(replicas)
	d := &appsv1.Deployment{
		TypeMeta:   x.typeMeta("Deployment"),
		ObjectMeta: x.workloadMeta(c, c.Name),
		Spec: appsv1.DeploymentSpec{
			Replicas:             &r,
			RevisionHistoryLimit: ptr(int32(3)),
			Selector:             &metav1.LabelSelector{MatchLabels: x.meta.Selector(c)},
			Template:             tpl,
		},
	}
	if recreate {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	}
	return d
}

// statefulSet runs c's pod with one ReadWriteOnce volume of its own.
func (x env) statefulSet(c *component.Component, replicas config.Replicas, tpl corev1.PodTemplateSpec, volume string, size config.Quantity) *appsv1.StatefulSet {
	x.secretsChecksum(&tpl)
	one := int32(replicas)
	class := string(x.e.Storage.ReadWriteOnceClass)
	return &appsv1.StatefulSet{
		TypeMeta:   x.typeMeta("StatefulSet"),
		ObjectMeta: x.workloadMeta(c, c.Name),
		Spec: appsv1.StatefulSetSpec{
			Replicas:             &one,
			ServiceName:          c.Name,
			RevisionHistoryLimit: ptr(int32(3)),
			Selector:             &metav1.LabelSelector{MatchLabels: x.meta.Selector(c)},
			Template:             tpl,
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				// Deleting or scaling the StatefulSet must never delete data.
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{
				x.claim(metav1.ObjectMeta{Name: volume, Labels: x.meta.Selector(c)}, corev1.ReadWriteOnce, class, size)},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// keepWhenPruned tells Flux never to delete the object when it leaves git
// (kustomize-controller's prune opt-out). Used for what holds data that
// nothing can recreate: the namespace (deleting it deletes every volume in
// it) and the uploaded files. Removing an environment from the description
// then stops and removes its workloads but leaves its data for an operator
// to delete on purpose.
func keepWhenPruned(m *metav1.ObjectMeta) {
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations["kustomize.toolkit.fluxcd.io/prune"] = "disabled"
}

// workloadMeta names a workload of c, with the version label.
func (x env) workloadMeta(c *component.Component, name string) metav1.ObjectMeta {
	m := x.meta.ObjectMeta(c, name)
	m.Labels = x.meta.VersionedLabels(c)
	return m
}

// claim is a PersistentVolumeClaim of one access mode, class and size.
func (x env) claim(meta metav1.ObjectMeta, mode corev1.PersistentVolumeAccessMode, class string, size config.Quantity) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		TypeMeta:   x.typeMeta("PersistentVolumeClaim"),
		ObjectMeta: meta,
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{mode},
			StorageClassName: &class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size.Quantity}},
		},
	}
}
