package review

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/tree"
)

// doc parses one YAML object; "" is an absent object.
func doc(t *testing.T, s string) tree.Doc {
	t.Helper()
	if s == "" {
		return nil
	}
	var d tree.Doc
	if err := yaml.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// ruleFlags runs every object rule on one object, as compareScope does,
// and prints the flags as "category: message".
func ruleFlags(t *testing.T, old, new string) []string {
	t.Helper()
	return forcedRuleFlags(t, old, new, "")
}

// forcedRuleFlags is ruleFlags for an object Flux recreates when the API
// server refuses a change (forcedBy as forcedBy says it, or "").
func forcedRuleFlags(t *testing.T, old, new, forced string) []string {
	t.Helper()
	p := pair{old: doc(t, old), new: doc(t, new), forcedBy: forced}
	if p.new != nil {
		p.id = idOf(p.new)
	} else {
		p.id = idOf(p.old)
	}
	var flags []Flag
	for _, rule := range objectRules {
		for _, f := range rule(p) {
			id := p.id
			f.Object = &id
			flags = append(flags, f)
		}
	}
	var out []string
	for _, f := range mergeFlags(flags) {
		out = append(out, string(f.Category)+": "+f.Message)
	}
	return out
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: web}
      annotations: {checksum/secrets: aaa}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: web
        image: registry.example/app:1.0
        resources:
          requests: {cpu: 100m, memory: 1Gi}
          limits: {memory: 2Gi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
`

// with returns deployment with one string replaced.
func with(old, new string) string {
	return replaceOnce(deployment, old, new)
}

func replaceOnce(s, old, new string) string {
	if strings.Count(s, old) != 1 {
		panic("fixture: " + old + " does not occur exactly once")
	}
	return strings.Replace(s, old, new, 1)
}

func TestObjectRules(t *testing.T) {
	pvc := func(size, class, mode, annotations string) string {
		return `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: files, namespace: ns` + annotations + `}
spec:
  accessModes: [` + mode + `]
  storageClassName: ` + class + `
  resources: {requests: {storage: ` + size + `}}
`
	}
	hpa := func(min, max string) string {
		return `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: ns}
spec: {scaleTargetRef: {kind: Deployment, name: web}, minReplicas: ` + min + `, maxReplicas: ` + max + `}
`
	}
	ingress := func(hosts string) string {
		return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: ns}
spec:
  ingressClassName: nginx
  rules: [` + hosts + `]
  tls: [{hosts: [a.example], secretName: tls}]
`
	}
	role := func(verbs string) string {
		return `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [` + verbs + `]}
`
	}
	binding := func(subjects string) string {
		return `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: b, namespace: ns}
roleRef: {kind: Role, name: r}
subjects: [` + subjects + `]
`
	}
	ks := func(spec string) string {
		return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: prod-app, namespace: flux-system}
spec: {path: ./overlays/prod/app, ` + spec + `}
`
	}
	sealed := func(data string) string {
		return `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: app, namespace: ns}
spec: {encryptedData: {` + data + `}}
`
	}
	cases := []struct {
		name     string
		old, new string
		want     []string
	}{
		{name: "nothing changed", old: deployment, new: deployment},
		{name: "a label changed is no flag", old: deployment, new: with("app: web}", "app: web, x: y}")},
		{name: "image tag", old: deployment, new: with("app:1.0", "app:1.1"),
			want: []string{"image: container web: registry.example/app tag 1.0 → 1.1"}},
		{name: "image repository", old: deployment, new: with("registry.example/app:1.0", "other.example/app:1.0"),
			want: []string{"image: container web: image registry.example/app:1.0 → other.example/app:1.0"}},
		{name: "image on a new workload is no flag", new: deployment},
		{name: "chart version", old: "{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: x}, spec: {chart: {spec: {chart: x, version: 1.0.0}}}}",
			new:  "{apiVersion: helm.toolkit.fluxcd.io/v2, kind: HelmRelease, metadata: {name: x}, spec: {chart: {spec: {chart: x, version: 1.1.0}}}}",
			want: []string{"image: chart x version 1.0.0 → 1.1.0"}},
		{name: "replicas", old: deployment, new: with("replicas: 2", "replicas: 5"), want: []string{"replicas: replicas 2 → 5"}},
		{name: "replicas removed", old: deployment, new: with("replicas: 2\n", ""), want: []string{"replicas: replicas 2 → unset (1)"}},
		{name: "autoscaler bounds", old: hpa("2", "4"), new: hpa("2", "8"), want: []string{"replicas: maxReplicas 4 → 8"}},
		{name: "autoscaler unchanged", old: hpa("2", "4"), new: hpa("2", "4")},
		{name: "autoscaler added", new: hpa("2", "4"), want: []string{"replicas: autoscales web from 2 to 4 replicas"}},
		{name: "limit", old: deployment, new: with("limits: {memory: 2Gi}", "limits: {memory: 3Gi, cpu: 1}"),
			want: []string{"resources: container web: limits.cpu (none) → 1", "resources: container web: limits.memory 2Gi → 3Gi"}},
		{name: "claim grows", old: pvc("10Gi", "rbd", "ReadWriteOnce", ""), new: pvc("20Gi", "rbd", "ReadWriteOnce", ""),
			want: []string{"storage: size 10Gi → 20Gi (grow: expands in place if the storage class allows volume expansion)"}},
		{name: "claim unchanged", old: pvc("10Gi", "rbd", "ReadWriteOnce", ""), new: pvc("10Gi", "rbd", "ReadWriteOnce", "")},
		{name: "claim removed", old: pvc("10Gi", "rbd", "ReadWriteOnce", ""),
			want: []string{"storage: claim removed (10Gi, class rbd, ReadWriteOnce): Flux deletes it, and its data with it unless the volume is retained"}},
		{name: "claim removed, prune disabled", old: pvc("10Gi", "rbd", "ReadWriteOnce", ", annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}"),
			want: []string{"storage: claim removed from git (10Gi, class rbd, ReadWriteOnce); Flux keeps it (prune disabled)"}},
		{name: "ingress host", old: ingress("{host: a.example}"), new: ingress("{host: a.example}, {host: b.example}"),
			want: []string{"ingress: host b.example exposed"}},
		{name: "ingress TLS and class", old: ingress("{host: a.example}"), new: replaceOnce(replaceOnce(ingress("{host: a.example}"), "hosts: [a.example]", "hosts: [a.example, b.example]"), "nginx", "traefik"),
			want: []string{"ingress: TLS certificate in Secret tls: hosts a.example → a.example, b.example", "ingress: ingressClassName nginx → traefik"}},
		{name: "service exposed", old: "{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {type: ClusterIP}}", new: "{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {type: LoadBalancer}}",
			want: []string{"ingress: Service type ClusterIP → LoadBalancer: reachable from outside the cluster"}},
		{name: "new service, cluster-internal", new: "{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 80}]}}"},
		{name: "ingress unchanged", old: ingress("{host: a.example}"), new: ingress("{host: a.example}")},
		{name: "role rule", old: role("get"), new: role("get, list"),
			want: []string{"rbac: no longer grants get on secrets", "rbac: grants get,list on secrets"}},
		{name: "role unchanged", old: role("get"), new: role("get")},
		{name: "binding subject", old: binding("{kind: ServiceAccount, name: a, namespace: ns}"), new: binding("{kind: ServiceAccount, name: a, namespace: ns}, {kind: Group, name: admins}"),
			want: []string{"rbac: Group admins gains Role r"}},
		{name: "security: privileged, escalation, capability", old: deployment,
			new:  replaceOnce(with("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true\n          privileged: true"), "capabilities: {drop: [ALL]}", "capabilities: {add: [SYS_ADMIN]}"),
			want: []string{"security: container web: adds capability SYS_ADMIN", "security: container web: allowPrivilegeEscalation true", "security: container web: capabilities not all dropped (drop null)", "security: container web: privileged true"}},
		{name: "security: root allowed", old: deployment, new: with("runAsNonRoot: true\n        runAsUser: 1000", "runAsUser: 0"),
			want: []string{"security: container web: runAsNonRoot (none)", "security: container web: runAsUser 0 (root)"}},
		{name: "security: host namespaces and paths", old: deployment,
			new:  with("automountServiceAccountToken: false", "automountServiceAccountToken: true\n      hostNetwork: true\n      volumes: [{name: sock, hostPath: {path: /var/run}}]"),
			want: []string{"security: pod: automountServiceAccountToken true", "security: pod: hostNetwork true", "security: volume sock: hostPath /var/run"}},
		{name: "security: seccomp and read-only root removed", old: deployment, new: with("seccompProfile: {type: RuntimeDefault}", "seccompProfile: {type: Unconfined}"),
			want: []string{"security: container web: seccompProfile Unconfined"}},
		{name: "security tightened is no flag", old: with("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"), new: deployment},
		{name: "security: new workload, restricted", new: deployment},
		{name: "security: new workload, loose", new: with("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
			want: []string{"security: new workload: container web: readOnlyRootFilesystem false"}},
		{name: "flux prune, suspend, dependsOn", old: ks("prune: true, dependsOn: [{name: a}]"), new: ks("prune: false, suspend: true, dependsOn: [{name: b}]"),
			want: []string{"flux: prune true → false", "flux: suspend (none) → true", "flux: no longer depends on a", "flux: now depends on b"}},
		{name: "flux unchanged", old: ks("prune: true"), new: ks("prune: true")},
		{name: "flux Kustomization removed", old: ks("prune: true"), want: []string{"flux: Kustomization removed: Flux deletes everything it applied (./overlays/prod/app)"}},
		{name: "flux source branch", old: "{apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, metadata: {name: r}, spec: {url: u, ref: {branch: main}}}",
			new:  "{apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, metadata: {name: r}, spec: {url: u, ref: {branch: dev}}}",
			want: []string{`flux: source ref {"branch":"main"} → {"branch":"dev"}`}},
		{name: "prune protection removed", old: with("name: web, namespace: ns}", "name: web, namespace: ns, annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}}"), new: deployment,
			want: []string{"flux: kustomize.toolkit.fluxcd.io/prune disabled → (none)"}},
		{name: "sealed keys", old: sealed("a: AgA1, b: AgB1, c: AgC1"), new: sealed("a: AgA1, b: AgB2, d: AgD1"),
			want: []string{"secrets: keys added: d", "secrets: keys removed: c", "secrets: re-sealed: b"}},
		{name: "sealed secret added", new: sealed("b: AgB1, a: AgA1"), want: []string{"secrets: new, keys a, b"}},
		{name: "sealed secret removed", old: sealed("a: AgA1"), want: []string{"secrets: removed, keys a"}},
		{name: "sealed unchanged", old: sealed("a: AgA1"), new: sealed("a: AgA1")},
		{name: "checksum restart", old: deployment, new: with("checksum/secrets: aaa", "checksum/secrets: bbb"),
			want: []string{"secrets: pods restart: checksum/secrets changed (follows the sealed secrets they read)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, ruleFlags(t, c.old, c.new)); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitImage(t *testing.T) {
	for _, c := range []struct{ ref, repo, tag string }{
		{"nginx:1.27", "nginx", "1.27"},
		{"registry:5000/team/app:v1", "registry:5000/team/app", "v1"},
		{"registry:5000/team/app", "registry:5000/team/app", "(none, i.e. latest)"},
		{"app@sha256:" + strings.Repeat("ab", 32), "app", "sha256:" + strings.Repeat("ab", 32)},
		{"app:v1@sha256:" + strings.Repeat("ab", 32), "app", "sha256:" + strings.Repeat("ab", 32)},
		{"Bad:Ref", "Bad:Ref", "(unreadable)"},
	} {
		if repo, tag := splitImage(c.ref); repo != c.repo || tag != c.tag {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", c.ref, repo, tag, c.repo, c.tag)
		}
	}
}
