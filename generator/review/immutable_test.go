package review

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Fixtures of every kind with immutable fields, as the generator writes
// them (flow style, so that a case replaces exactly one piece).
const (
	immDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: web}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: web}}
    spec: {containers: [{name: web, image: "app:1.0"}]}
`
	immDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ns}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: agent}}
  template: {metadata: {labels: {app.kubernetes.io/name: agent}}, spec: {containers: [{name: a, image: "a:1"}]}}
`
	immStatefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: ns}
spec:
  replicas: 1
  revisionHistoryLimit: 3
  serviceName: db
  podManagementPolicy: OrderedReady
  minReadySeconds: 0
  updateStrategy: {type: RollingUpdate}
  persistentVolumeClaimRetentionPolicy: {whenDeleted: Retain, whenScaled: Retain}
  selector: {matchLabels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: db}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: db}}
    spec: {containers: [{name: db, image: "postgres:14.13"}]}
  volumeClaimTemplates:
  - metadata: {name: data, labels: {app.kubernetes.io/name: db}}
    spec: {accessModes: [ReadWriteOnce], storageClassName: rbd, resources: {requests: {storage: 10Gi}}}
`
	immJob = `apiVersion: batch/v1
kind: Job
metadata: {name: setup, namespace: ns}
spec:
  backoffLimit: 3
  activeDeadlineSeconds: 3600
  template:
    metadata: {labels: {app.kubernetes.io/name: setup}}
    spec: {restartPolicy: Never, containers: [{name: setup, image: "app:1.0"}]}
`
	immCronJob = `apiVersion: batch/v1
kind: CronJob
metadata: {name: backup, namespace: ns}
spec:
  schedule: "0 2 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: b, image: "restic:1"}]}}}}
`
	immService = `apiVersion: v1
kind: Service
metadata: {name: db, namespace: ns}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: db}
  ports: [{name: pg, port: 5432}]
`
	immClaim = `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: files, namespace: ns}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: cephfs
  resources: {requests: {storage: 10Gi}}
`
	immConfigMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: conf, namespace: ns}
data: {a: "1"}
`
	immSecret = `apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: ns}
type: Opaque
data: {password: c2VjcmV0}
`
	immSealedSecret = `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: creds, namespace: ns}
spec:
  encryptedData: {password: AgA1}
  template: {metadata: {name: creds, namespace: ns}, type: Opaque}
`
	immRoleBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: ns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: a, namespace: ns}]
`
	immClusterRoleBinding = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reader}
subjects: [{kind: ServiceAccount, name: a, namespace: ns}]
`
)

// edit1 replaces old, which must occur exactly once, by new.
func edit1(s, old, new string) string { return replaceOnce(s, old, new) }

// What each kind's flag ends with: what the change takes, and where the
// runbook says more.
const (
	takesDeployment  = "; delete the Deployment with --cascade=orphan (its pods keep serving) and Flux creates it anew — docs/immutable-fields.md#deployment"
	takesDaemonSet   = "; delete the DaemonSet with --cascade=orphan and Flux creates it anew — docs/immutable-fields.md#deployment"
	takesStatefulSet = "; delete the StatefulSet with --cascade=orphan (pods and claims stay) and Flux creates it anew; existing claims are not changed — docs/immutable-fields.md#statefulset"
	takesJob         = "; delete the Job and Flux creates it anew, which runs it again — docs/immutable-fields.md#job"
	takesService     = "; delete the Service and Flux creates it anew, with a new cluster IP — docs/immutable-fields.md#service"
	takesClaim       = "; needs a new volume: copy the data to a new claim or restore it from a backup — docs/immutable-fields.md#persistentvolumeclaim"
	takesConfig      = "; delete it and Flux creates it anew; pods read it when they start — docs/immutable-fields.md#configmap-and-secret"
	takesSealed      = "; delete the Secret (not the SealedSecret) and the sealed-secrets controller creates it anew — docs/immutable-fields.md#sealedsecret"
	takesBinding     = "; delete the binding and Flux creates it anew (its subjects lack the role in between) — docs/immutable-fields.md#rolebinding"
	refused          = ": the API server refuses it"
)

// TestImmutableFields: one case per field the API server refuses to
// change on each kind the generator emits (and on the kinds next to them:
// DaemonSet, Secret, bindings), each with the exact flag; and the changes
// next to them that it accepts, with no immutable flag.
func TestImmutableFields(t *testing.T) {
	sts := func(old, new string) string { return edit1(immStatefulSet, old, new) }
	svc := func(old, new string) string { return edit1(immService, old, new) }
	claim := func(old, new string) string { return edit1(immClaim, old, new) }
	job := func(old, new string) string { return edit1(immJob, old, new) }
	cases := []struct {
		name     string
		old, new string
		forcedBy string
		want     []string
	}{
		// Deployment, DaemonSet: spec.selector.
		{name: "Deployment selector", old: immDeployment,
			new:  edit1(immDeployment, "selector: {matchLabels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: web}}", "selector: {matchLabels: {app.kubernetes.io/name: web}}"),
			want: []string{"immutable: spec.selector app.kubernetes.io/instance=site,app.kubernetes.io/name=web → app.kubernetes.io/name=web" + refused + takesDeployment}},
		{name: "Deployment replicas: accepted", old: immDeployment, new: edit1(immDeployment, "replicas: 2", "replicas: 3"),
			want: []string{"replicas: replicas 2 → 3"}},
		{name: "Deployment template: accepted", old: immDeployment, new: edit1(immDeployment, `"app:1.0"`, `"app:1.1"`),
			want: []string{"image: container web: app tag 1.0 → 1.1"}},
		{name: "Deployment template labels: accepted", old: immDeployment,
			new: edit1(immDeployment, "metadata: {labels: {app.kubernetes.io/instance: site,", "metadata: {labels: {app.kubernetes.io/instance: other,")},
		{name: "DaemonSet selector", old: immDaemonSet, new: edit1(immDaemonSet, "selector: {matchLabels: {app.kubernetes.io/name: agent}}", "selector: {matchLabels: {app.kubernetes.io/name: agent, tier: node}}"),
			want: []string{"immutable: spec.selector app.kubernetes.io/name=agent → app.kubernetes.io/name=agent,tier=node" + refused + takesDaemonSet}},

		// StatefulSet: everything but replicas, ordinals, template,
		// updateStrategy, persistentVolumeClaimRetentionPolicy, minReadySeconds.
		{name: "StatefulSet selector", old: immStatefulSet, new: sts("selector: {matchLabels: {app.kubernetes.io/instance: site, app.kubernetes.io/name: db}}", "selector: {matchLabels: {app.kubernetes.io/name: db}}"),
			want: []string{"immutable: spec.selector app.kubernetes.io/instance=site,app.kubernetes.io/name=db → app.kubernetes.io/name=db" + refused + takesStatefulSet}},
		{name: "StatefulSet serviceName", old: immStatefulSet, new: sts("serviceName: db", "serviceName: db-headless"),
			want: []string{"immutable: spec.serviceName db → db-headless" + refused + takesStatefulSet}},
		{name: "StatefulSet podManagementPolicy", old: immStatefulSet, new: sts("podManagementPolicy: OrderedReady", "podManagementPolicy: Parallel"),
			want: []string{"immutable: spec.podManagementPolicy OrderedReady → Parallel" + refused + takesStatefulSet}},
		{name: "StatefulSet revisionHistoryLimit", old: immStatefulSet, new: sts("revisionHistoryLimit: 3", "revisionHistoryLimit: 5"),
			want: []string{"immutable: spec.revisionHistoryLimit 3 → 5" + refused + " (Kubernetes 1.32 and earlier; later releases accept it)" + takesStatefulSet}},
		{name: "claim template grows", old: immStatefulSet, new: sts("storage: 10Gi", "storage: 20Gi"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 10Gi → 20Gi (grow)" + refused + takesStatefulSet}},
		{name: "claim template shrinks", old: immStatefulSet, new: sts("storage: 10Gi", "storage: 5Gi"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 10Gi → 5Gi (shrink)" + refused + takesStatefulSet}},
		{name: "claim template size spelled differently: accepted", old: immStatefulSet, new: sts("storage: 10Gi", `storage: "10737418240"`)},
		{name: "claim template size as a number: accepted", old: immStatefulSet, new: sts("storage: 10Gi", "storage: 10737418240")},
		{name: "claim template size in other units: accepted", old: sts("storage: 10Gi", "storage: 1Gi"), new: sts("storage: 10Gi", "storage: 1024Mi")},
		{name: "claim template grows by a byte", old: immStatefulSet, new: sts("storage: 10Gi", `storage: "10737418241"`),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].spec.resources.requests.storage 10Gi → 10737418241 (grow)" + refused + takesStatefulSet}},
		{name: "claim template storage class", old: immStatefulSet, new: sts("storageClassName: rbd", "storageClassName: ssd"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].spec.storageClassName rbd → ssd" + refused + takesStatefulSet}},
		{name: "claim template access modes", old: immStatefulSet, new: sts("accessModes: [ReadWriteOnce]", "accessModes: [ReadWriteOncePod]"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].spec.accessModes ReadWriteOnce → ReadWriteOncePod" + refused + takesStatefulSet}},
		{name: "claim template labels", old: immStatefulSet, new: sts("labels: {app.kubernetes.io/name: db}}", "labels: {app.kubernetes.io/name: db, app.kubernetes.io/instance: site}}"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=data].metadata.labels[app.kubernetes.io/instance] (none) → site" + refused + takesStatefulSet}},
		{name: "claim template added", old: immStatefulSet,
			new:  sts("  volumeClaimTemplates:\n", "  volumeClaimTemplates:\n  - metadata: {name: logs}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n"),
			want: []string{"immutable: spec.volumeClaimTemplates[metadata.name=logs] added (1Gi, ReadWriteOnce)" + refused + takesStatefulSet}},
		{name: "StatefulSet mutable fields: accepted", old: immStatefulSet,
			new: strings.NewReplacer("minReadySeconds: 0", "minReadySeconds: 10", "updateStrategy: {type: RollingUpdate}", "updateStrategy: {type: OnDelete}",
				"whenDeleted: Retain", "whenDeleted: Delete", "replicas: 1\n", "replicas: 1\n  ordinals: {start: 1}\n", `"postgres:14.13"`, `"postgres:14.14"`).Replace(immStatefulSet),
			want: []string{"image: container db: postgres tag 14.13 → 14.14"}},
		{name: "StatefulSet recreated by force", old: immStatefulSet, new: sts("serviceName: db", "serviceName: db-headless"), forcedBy: "Kustomization prod-data has spec.force: true",
			want: []string{"flux: spec.serviceName db → db-headless: the API server refuses it in place; Flux deletes the StatefulSet and creates it anew (Kustomization prod-data has spec.force: true): its pods stop and start again on the same claims (the claims and their data stay)"}},
		{name: "StatefulSet recreated by force, claims deleted", old: sts("whenDeleted: Retain", "whenDeleted: Delete"), new: strings.NewReplacer("whenDeleted: Retain", "whenDeleted: Delete", "serviceName: db", "serviceName: x").Replace(immStatefulSet),
			forcedBy: "kustomize.toolkit.fluxcd.io/force: enabled",
			want:     []string{"flux: spec.serviceName db → x: the API server refuses it in place; Flux deletes the StatefulSet and creates it anew (kustomize.toolkit.fluxcd.io/force: enabled): its pods stop, and its claims are deleted with it (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete), and their data"}},

		// Job: selector, template, completions, completionMode,
		// podFailurePolicy, backoffLimitPerIndex, managedBy, successPolicy.
		{name: "Job template", old: immJob, new: job(`"app:1.0"`, `"app:1.1"`),
			want: []string{"immutable: spec.template changed (spec.containers[name=setup].image)" + refused + takesJob, "image: container setup: app tag 1.0 → 1.1"}},
		{name: "Job template, force annotation: recreated by design", old: immJob, new: job(`"app:1.0"`, `"app:1.1"`), forcedBy: "kustomize.toolkit.fluxcd.io/force: enabled",
			want: []string{"flux: spec.template changed (spec.containers[name=setup].image): the API server refuses it in place; Flux deletes the Job and creates it anew (kustomize.toolkit.fluxcd.io/force: enabled): it runs again", "image: container setup: app tag 1.0 → 1.1"}},
		{name: "Job template, many fields", old: immJob,
			new:  job("spec: {restartPolicy: Never, containers: [{name: setup, image: \"app:1.0\"}]}", "spec: {restartPolicy: OnFailure, hostname: h, subdomain: s, containers: [{name: setup, image: \"app:1.0\", workingDir: /w}]}"),
			want: []string{"immutable: spec.template changed (spec.containers[name=setup].workingDir, spec.hostname, spec.restartPolicy, 1 more)" + refused + takesJob}},
		{name: "Job template resources spelled differently: accepted", old: job(`image: "app:1.0"}`, `image: "app:1.0", resources: {limits: {memory: 1Gi, cpu: 500m}}}`),
			new: job(`image: "app:1.0"}`, `image: "app:1.0", resources: {limits: {memory: "1073741824", cpu: "0.5"}}}`)},
		{name: "Job template emptyDir size spelled differently: accepted", old: job("containers:", "volumes: [{name: tmp, emptyDir: {sizeLimit: 1Gi}}], containers:"),
			new: job("containers:", "volumes: [{name: tmp, emptyDir: {sizeLimit: 1024Mi}}], containers:")},
		{name: "Job template resources", old: job(`image: "app:1.0"}`, `image: "app:1.0", resources: {limits: {memory: 1Gi}}}`),
			new:  job(`image: "app:1.0"}`, `image: "app:1.0", resources: {limits: {memory: 2Gi}}}`),
			want: []string{"immutable: spec.template changed (spec.containers[name=setup].resources.limits.memory)" + refused + takesJob, "resources: container setup: limits.memory 1Gi → 2Gi"}},
		{name: "Job selector", old: job("backoffLimit: 3", "backoffLimit: 3\n  manualSelector: true\n  selector: {matchLabels: {a: b}}"), new: job("backoffLimit: 3", "backoffLimit: 3\n  manualSelector: true\n  selector: {matchLabels: {a: c}}"),
			want: []string{"immutable: spec.selector a=b → a=c" + refused + takesJob}},
		{name: "Job completions", old: job("backoffLimit: 3", "backoffLimit: 3\n  completions: 1"), new: job("backoffLimit: 3", "backoffLimit: 3\n  completions: 2"),
			want: []string{"immutable: spec.completions 1 → 2" + refused + takesJob}},
		{name: "Indexed Job completions: accepted", old: job("backoffLimit: 3", "backoffLimit: 3\n  completionMode: Indexed\n  completions: 2\n  parallelism: 2"), new: job("backoffLimit: 3", "backoffLimit: 3\n  completionMode: Indexed\n  completions: 3\n  parallelism: 3")},
		{name: "Job completionMode", old: job("backoffLimit: 3", "backoffLimit: 3\n  completionMode: NonIndexed"), new: job("backoffLimit: 3", "backoffLimit: 3\n  completionMode: Indexed"),
			want: []string{"immutable: spec.completionMode NonIndexed → Indexed" + refused + takesJob}},
		{name: "Job podFailurePolicy", old: immJob, new: job("backoffLimit: 3", "backoffLimit: 3\n  podFailurePolicy: {rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]}"),
			want: []string{`immutable: spec.podFailurePolicy (none) → {"rules":[{"action":"FailJob","onExitCodes":{"operator":"In","values":[42]}}]}` + refused + takesJob}},
		{name: "Job backoffLimitPerIndex", old: job("backoffLimit: 3", "completionMode: Indexed\n  completions: 2\n  backoffLimitPerIndex: 1"), new: job("backoffLimit: 3", "completionMode: Indexed\n  completions: 2\n  backoffLimitPerIndex: 2"),
			want: []string{"immutable: spec.backoffLimitPerIndex 1 → 2" + refused + takesJob}},
		{name: "Job managedBy", old: immJob, new: job("backoffLimit: 3", "backoffLimit: 3\n  managedBy: kueue.x-k8s.io/multikueue"),
			want: []string{"immutable: spec.managedBy (none) → kueue.x-k8s.io/multikueue" + refused + takesJob}},
		{name: "Job successPolicy", old: job("backoffLimit: 3", "completionMode: Indexed\n  completions: 2"), new: job("backoffLimit: 3", "completionMode: Indexed\n  completions: 2\n  successPolicy: {rules: [{succeededCount: 1}]}"),
			want: []string{`immutable: spec.successPolicy (none) → {"rules":[{"succeededCount":1}]}` + refused + takesJob}},
		{name: "Job backoffLimit, activeDeadlineSeconds: accepted", old: immJob, new: job("backoffLimit: 3\n  activeDeadlineSeconds: 3600", "backoffLimit: 6\n  activeDeadlineSeconds: 7200")},
		{name: "CronJob job template: accepted", old: immCronJob, new: edit1(immCronJob, `"restic:1"`, `"restic:2"`),
			want: []string{"image: container b: restic tag 1 → 2"}},

		// Service: clusterIP(s), the primary ipFamily, headless ↔ not,
		// loadBalancerClass; nothing to or from ExternalName.
		{name: "Service clusterIP", old: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: 10.0.0.10"), new: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: 10.0.0.11"),
			want: []string{"immutable: spec.clusterIP 10.0.0.10 → 10.0.0.11" + refused + takesService}},
		{name: "Service clusterIPs", old: svc("type: ClusterIP", "type: ClusterIP\n  clusterIPs: [10.0.0.10]"), new: svc("type: ClusterIP", "type: ClusterIP\n  clusterIPs: [10.0.0.11]"),
			want: []string{"immutable: spec.clusterIP 10.0.0.10 → 10.0.0.11" + refused + takesService}},
		{name: "Service becomes headless", old: immService, new: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: None"),
			want: []string{"immutable: spec.clusterIP (allocated) → None" + refused + " (a Service with an address cannot become headless)" + takesService}},
		{name: "Service no longer headless", old: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: None"), new: immService,
			want: []string{"immutable: spec.clusterIP None → (none)" + refused + " (the API server keeps clusterIP None: the Service stays headless until recreated)" + takesService}},
		{name: "Service address declared", old: immService, new: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: 10.0.0.10"),
			want: []string{"immutable: spec.clusterIP (allocated) → 10.0.0.10" + refused + " (the Service already has the address the cluster allocated)" + takesService}},
		{name: "Service address no longer declared: kept", old: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: 10.0.0.10"), new: immService},
		{name: "Service ipFamilies", old: svc("type: ClusterIP", "type: ClusterIP\n  ipFamilies: [IPv4]"), new: svc("type: ClusterIP", "type: ClusterIP\n  ipFamilies: [IPv6]"),
			want: []string{"immutable: spec.ipFamilies[0] IPv4 → IPv6" + refused + " (the primary IP family)" + takesService}},
		{name: "Service secondary ipFamily added: accepted", old: svc("type: ClusterIP", "type: ClusterIP\n  ipFamilies: [IPv4]"), new: svc("type: ClusterIP", "type: ClusterIP\n  ipFamilies: [IPv4, IPv6]\n  ipFamilyPolicy: PreferDualStack")},
		{name: "Service loadBalancerClass", old: svc("type: ClusterIP", "type: LoadBalancer\n  loadBalancerClass: a.example/lb"), new: svc("type: ClusterIP", "type: LoadBalancer\n  loadBalancerClass: b.example/lb"),
			want: []string{"immutable: spec.loadBalancerClass a.example/lb → b.example/lb" + refused + takesService}},
		{name: "Service to ExternalName: accepted", old: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: 10.0.0.10"), new: svc("type: ClusterIP", "type: ExternalName\n  externalName: db.example.org")},
		{name: "Service from ExternalName: accepted", old: svc("type: ClusterIP", "type: ExternalName\n  externalName: db.example.org"), new: svc("type: ClusterIP", "type: ClusterIP\n  clusterIP: None")},
		{name: "Service to NodePort: accepted", old: immService, new: svc("type: ClusterIP", "type: NodePort"),
			want: []string{"ingress: Service type ClusterIP → NodePort: reachable from outside the cluster"}},
		{name: "Service selector and ports: accepted", old: immService, new: svc("selector: {app.kubernetes.io/name: db}\n  ports: [{name: pg, port: 5432}]", "selector: {app: x}\n  ports: [{name: pg, port: 5433}]")},

		// PersistentVolumeClaim: everything but resources.requests (upwards)
		// and volumeAttributesClassName.
		{name: "claim grows: accepted", old: immClaim, new: claim("storage: 10Gi", "storage: 20Gi"),
			want: []string{"storage: size 10Gi → 20Gi (grow: expands in place if the storage class allows volume expansion)"}},
		{name: "claim shrinks", old: immClaim, new: claim("storage: 10Gi", "storage: 5Gi"),
			want: []string{"immutable: spec.resources.requests.storage 10Gi → 5Gi (shrink)" + refused + " (a claim cannot shrink)" + takesClaim}},
		{name: "claim shrinks, other unit", old: immClaim, new: claim("storage: 10Gi", "storage: 10G"),
			want: []string{"immutable: spec.resources.requests.storage 10Gi → 10G (shrink)" + refused + " (a claim cannot shrink)" + takesClaim}},
		{name: "claim storage class", old: immClaim, new: claim("storageClassName: cephfs", "storageClassName: nfs"),
			want: []string{"immutable: spec.storageClassName cephfs → nfs" + refused + takesClaim}},
		{name: "claim storage class first written", old: claim("  storageClassName: cephfs\n", ""), new: immClaim,
			want: []string{"immutable: spec.storageClassName (none) → cephfs" + refused + " (unless it is the default class the cluster gave the claim)" + takesClaim}},
		{name: "claim access modes", old: immClaim, new: claim("accessModes: [ReadWriteMany]", "accessModes: [ReadWriteOnce, ReadOnlyMany]"),
			want: []string{"immutable: spec.accessModes ReadWriteMany → ReadWriteOnce, ReadOnlyMany" + refused + takesClaim}},
		{name: "claim volume mode", old: immClaim, new: claim("storageClassName: cephfs", "storageClassName: cephfs\n  volumeMode: Block"),
			want: []string{"immutable: spec.volumeMode (none) → Block" + refused + takesClaim}},
		{name: "claim selector and data source", old: immClaim, new: claim("storageClassName: cephfs", "storageClassName: cephfs\n  selector: {matchLabels: {pv: a}}\n  dataSource: {kind: VolumeSnapshot, name: s, apiGroup: snapshot.storage.k8s.io}"),
			want: []string{
				`immutable: spec.dataSource (none) → {"apiGroup":"snapshot.storage.k8s.io","kind":"VolumeSnapshot","name":"s"}` + refused + takesClaim,
				`immutable: spec.selector (none) → {"matchLabels":{"pv":"a"}}` + refused + takesClaim}},
		{name: "claim limit", old: immClaim, new: claim("requests: {storage: 10Gi}", "requests: {storage: 10Gi}, limits: {storage: 20Gi}"),
			want: []string{`immutable: spec.resources.limits (none) → {"storage":"20Gi"}` + refused + takesClaim}},
		{name: "claim size and limit spelled differently: accepted", old: claim("requests: {storage: 10Gi}", "requests: {storage: 10Gi}, limits: {storage: 20Gi}"),
			new: claim("requests: {storage: 10Gi}", `requests: {storage: "10737418240"}, limits: {storage: 20480Mi}`)},
		{name: "claim limit changed", old: claim("requests: {storage: 10Gi}", "requests: {storage: 10Gi}, limits: {storage: 20Gi}"),
			new:  claim("requests: {storage: 10Gi}", "requests: {storage: 10Gi}, limits: {storage: 30Gi}"),
			want: []string{"immutable: spec.resources.limits.storage 20Gi → 30Gi" + refused + takesClaim}},
		{name: "selector with an empty expression list: accepted", old: immDaemonSet, new: edit1(immDaemonSet, "selector: {matchLabels: {app.kubernetes.io/name: agent}}", "selector: {matchLabels: {app.kubernetes.io/name: agent}, matchExpressions: []}")},
		{name: "claim volume attributes class: accepted", old: immClaim, new: claim("storageClassName: cephfs", "storageClassName: cephfs\n  volumeAttributesClassName: gold")},
		{name: "claim recreated by force", old: immClaim, new: claim("storage: 10Gi", "storage: 5Gi"), forcedBy: "kustomize.toolkit.fluxcd.io/force: enabled",
			want: []string{"flux: spec.resources.requests.storage 10Gi → 5Gi (shrink): the API server refuses it in place; Flux deletes the PersistentVolumeClaim and creates it anew (kustomize.toolkit.fluxcd.io/force: enabled): the claim is deleted, and its data with it unless its volume's reclaim policy is Retain"}},

		// ConfigMap, Secret: data once immutable: true; a Secret's type.
		{name: "ConfigMap data: accepted", old: immConfigMap, new: edit1(immConfigMap, `a: "1"`, `a: "2"`)},
		{name: "immutable ConfigMap data", old: edit1(immConfigMap, "\ndata:", "\nimmutable: true\ndata:"), new: edit1(immConfigMap, "\ndata: {a: \"1\"}", "\nimmutable: true\ndata: {a: \"2\"}"),
			want: []string{"immutable: data changed" + refused + " (the object has immutable: true)" + takesConfig}},
		{name: "immutable ConfigMap made mutable", old: edit1(immConfigMap, "\ndata:", "\nimmutable: true\ndata:"), new: immConfigMap,
			want: []string{"immutable: immutable true → (none)" + refused + " (the object has immutable: true)" + takesConfig}},
		{name: "ConfigMap made immutable: accepted", old: immConfigMap, new: edit1(immConfigMap, "\ndata:", "\nimmutable: true\ndata:")},
		{name: "Secret type", old: immSecret, new: edit1(immSecret, "type: Opaque", "type: kubernetes.io/basic-auth"),
			want: []string{"immutable: type Opaque → kubernetes.io/basic-auth" + refused + takesConfig}},
		{name: "immutable Secret data, never shown", old: edit1(immSecret, "type: Opaque", "type: Opaque\nimmutable: true"), new: edit1(immSecret, "type: Opaque\ndata: {password: c2VjcmV0}", "type: Opaque\nimmutable: true\ndata: {password: b3RoZXI=}"),
			want: []string{"immutable: data changed" + refused + " (the object has immutable: true)" + takesConfig}},

		// SealedSecret: what the controller's update of its Secret is refused.
		{name: "SealedSecret type", old: immSealedSecret, new: edit1(immSealedSecret, "type: Opaque", "type: kubernetes.io/tls"),
			want: []string{"immutable: spec.template.type Opaque → kubernetes.io/tls" + refused + " (the controller's update of the Secret: its type is immutable)" + takesSealed}},
		{name: "SealedSecret re-sealed: accepted", old: immSealedSecret, new: edit1(immSealedSecret, "AgA1", "AgA2"),
			want: []string{"secrets: re-sealed: password"}},
		{name: "immutable SealedSecret re-sealed", old: edit1(immSealedSecret, "type: Opaque", "type: Opaque, immutable: true"), new: strings.NewReplacer("type: Opaque", "type: Opaque, immutable: true", "AgA1", "AgA2").Replace(immSealedSecret),
			want: []string{"immutable: spec.encryptedData changed" + refused + " (the controller's update of the Secret: it has immutable: true)" + takesSealed, "secrets: re-sealed: password"}},

		// Bindings: roleRef.
		{name: "RoleBinding roleRef", old: immRoleBinding, new: edit1(immRoleBinding, "name: reader}", "name: writer}"),
			want: []string{"immutable: roleRef.name reader → writer" + refused + takesBinding, "rbac: binds Role writer instead of Role reader"}},
		{name: "ClusterRoleBinding roleRef", old: immClusterRoleBinding, new: edit1(immClusterRoleBinding, "kind: ClusterRole, name: reader}", "kind: ClusterRole, name: admin}"),
			want: []string{"immutable: roleRef.name reader → admin" + refused + takesBinding, "rbac: binds ClusterRole admin instead of ClusterRole reader"}},
		{name: "RoleBinding subjects: accepted", old: immRoleBinding, new: edit1(immRoleBinding, "name: a, namespace: ns}]", "name: b, namespace: ns}]"),
			want: []string{"rbac: ServiceAccount ns/a loses Role reader", "rbac: ServiceAccount ns/b gains Role reader"}},

		// Kinds whose spec changes are all accepted.
		{name: "PodDisruptionBudget selector: accepted",
			old: "{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: p, namespace: ns}, spec: {maxUnavailable: 1, selector: {matchLabels: {a: b, c: d}}}}",
			new: "{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: p, namespace: ns}, spec: {maxUnavailable: 1, selector: {matchLabels: {a: b}}}}"},
		{name: "NetworkPolicy podSelector: accepted",
			old: "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p, namespace: ns}, spec: {podSelector: {matchLabels: {a: b, c: d}}, policyTypes: [Ingress]}}",
			new: "{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p, namespace: ns}, spec: {podSelector: {matchLabels: {a: b}}, policyTypes: [Ingress]}}"},
		{name: "ServiceMonitor selector: accepted",
			old: "{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, metadata: {name: m, namespace: ns}, spec: {selector: {matchLabels: {a: b, c: d}}}}",
			new: "{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, metadata: {name: m, namespace: ns}, spec: {selector: {matchLabels: {a: b}}}}"},
		{name: "HorizontalPodAutoscaler target: accepted",
			old: "{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, metadata: {name: h, namespace: ns}, spec: {scaleTargetRef: {kind: Deployment, name: a}, minReplicas: 2, maxReplicas: 3}}",
			new: "{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, metadata: {name: h, namespace: ns}, spec: {scaleTargetRef: {kind: Deployment, name: b}, minReplicas: 2, maxReplicas: 3}}"},
		{name: "Namespace labels: accepted",
			old: "{apiVersion: v1, kind: Namespace, metadata: {name: ns, labels: {a: b}}}",
			new: "{apiVersion: v1, kind: Namespace, metadata: {name: ns, labels: {a: c}}}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, forcedRuleFlags(t, c.old, c.new, c.forcedBy)); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestForcedBy: Flux recreates an object on a refused change when the
// object carries the force annotation, in git or on the cluster (the old
// revision's), or when its Kustomization has spec.force.
func TestForcedBy(t *testing.T) {
	forced := Object{Doc: doc(t, edit1(immJob, "name: setup, namespace: ns}", "name: setup, namespace: ns, annotations: {kustomize.toolkit.fluxcd.io/force: enabled}}")), Layer: "prod-app"}
	plain := Object{Doc: doc(t, immJob), Layer: "prod-app"}
	ks := func(force string) Objects {
		d := doc(t, "{apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, metadata: {name: prod-app, namespace: flux-system}, spec: {path: ./overlays/prod/app"+force+"}}")
		return Objects{idOf(d): {Doc: d}}
	}
	for _, c := range []struct {
		name   string
		o, n   Object
		layers Objects
		want   string
	}{
		{"annotation in git", plain, forced, ks(""), "kustomize.toolkit.fluxcd.io/force: enabled"},
		{"annotation on the cluster", forced, plain, ks(""), "kustomize.toolkit.fluxcd.io/force: enabled"},
		{"Kustomization force", plain, plain, ks(", force: true"), "Kustomization prod-app has spec.force: true"},
		{"Kustomization without force", plain, plain, ks(", force: false"), ""},
		{"no Kustomization", plain, plain, nil, ""},
	} {
		if got := forcedBy(c.o, c.n, c.layers); got != c.want {
			t.Errorf("%s: forcedBy = %q, want %q", c.name, got, c.want)
		}
	}
}

// TestNoCRDHasTransitionRules: the custom resources the generator emits
// (Flux, sealed-secrets, cert-manager, Prometheus Operator) have no field
// their CRD makes immutable — a transition rule (x-kubernetes-validations
// with oldSelf) is how a CRD would. If a CRD update brings one, this
// fails: add the field to immutableKinds.
func TestNoCRDHasTransitionRules(t *testing.T) {
	files, err := filepath.Glob("../crds/*/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRD files (%v)", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// GatewayClass: spec.controllerName, in immutableKinds.
		if strings.Contains(string(b), "oldSelf") && !strings.HasSuffix(f, "gateway.networking.k8s.io_gatewayclasses.yaml") {
			t.Errorf("%s has a transition rule (oldSelf): a field the API server refuses to change; add it to immutableKinds", f)
		}
	}
}

// TestRunbookHasEverySection: every section an immutable flag links to
// exists in docs/immutable-fields.md (GitHub's heading anchors).
func TestRunbookHasEverySection(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("../..", Runbook))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	heading := regexp.MustCompile(`(?m)^#+ (.+)$`)
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		anchors[strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(m[1]), ""), " ", "-")] = true
	}
	for gk, k := range immutableKinds {
		if !anchors[k.anchor] {
			t.Errorf("%s %s links to %s#%s, which has no such section", gk.group, gk.kind, Runbook, k.anchor)
		}
	}
}

// generatedWith is the repository generated from platform.yaml after
// change edits the loaded description, with the committed secrets/.
func generatedWith(t *testing.T, change func(*config.Platform)) tree.Tree {
	t.Helper()
	p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	change(p)
	sealed, err := generator.ReadSealed(p, repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	g, err := generator.Generate(p, sealed)
	if err != nil {
		t.Fatal(err)
	}
	return g.With(sealed)
}

// TestSiteRenameChangesNoImmutableField: renaming site.name relabels
// every object and pod template (app.kubernetes.io/instance) but no
// selector and no claim template holds the label (docs/decisions.md,
// "Selectors name the component only"), so nothing the API server
// refuses changes — no Deployment or StatefulSet needs recreating.
func TestSiteRenameChangesNoImmutableField(t *testing.T) {
	head := generatedWith(t, func(p *config.Platform) { p.Site.Name = "data-repository" })
	r, err := Diff(repository(t), head, "")
	if err != nil {
		t.Fatal(err)
	}
	var refused []string
	for _, f := range r.RefusedFlags() {
		refused = append(refused, f.String())
	}
	if diff := cmp.Diff([]string(nil), refused); diff != "" {
		t.Errorf("changes the API server refuses after a rename of site.name (-want +got):\n%s", diff)
	}
	// Not vacuous: the rename does reach every workload's pod template.
	workloads := map[string]int{}
	for _, sc := range r.Scopes {
		for _, c := range sc.Changed {
			for _, f := range c.Fields {
				if strings.HasPrefix(f.Path, "spec.template.metadata.labels[app.kubernetes.io/instance]") {
					workloads[c.ID.Kind]++
				}
			}
		}
	}
	if workloads["Deployment"] == 0 || workloads["StatefulSet"] == 0 {
		t.Errorf("the rename relabelled the pods of %v; want Deployments and StatefulSets", workloads)
	}
}

// TestReleaseRecreatesJobsByDesign: a release (a new image tag) changes
// the setup Job's pod template, which the API server refuses on a Job;
// the Job carries Flux's force annotation, so Flux recreates it and it
// runs again. That is reported under flux, and is not counted as refused.
func TestReleaseRecreatesJobsByDesign(t *testing.T) {
	repo := repository(t)
	head := apply(t, repo, []edit{{"overlays/prod/app/kustomization.yaml", "kind: Kustomization\n", "images:\n- name: ghcr.io/lbnl/lbnl-data-repository\n  newTag: v12.0.11-lbnl.1\nkind: Kustomization\n"}})
	r, err := Diff(repo, head, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Refused(); n != 0 {
		t.Errorf("a release has %d changes the API server refuses: %v", n, r.RefusedFlags())
	}
	var jobs []string
	for _, f := range r.Scopes[0].Flags {
		if f.Category == Flux && f.Object != nil && f.Object.Kind == "Job" {
			jobs = append(jobs, flagText(f))
		}
	}
	want := []string{"Job invenio-prod/invenio-setup: spec.template changed (spec.containers[name=setup].image): the API server refuses it in place; Flux deletes the Job and creates it anew (kustomize.toolkit.fluxcd.io/force: enabled): it runs again"}
	if diff := cmp.Diff(want, jobs); diff != "" {
		t.Errorf("flags of the setup Job (-want +got):\n%s", diff)
	}
}
