package crds

import (
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

func mustLoad(t *testing.T) *Set {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func parse(t *testing.T, doc string) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("test YAML: %v\n%s", err, doc)
	}
	return obj
}

func messages(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// Minimal objects of every kind the generator emits, as it would emit them.
var validObjects = []struct {
	name string
	doc  string
}{
	{"Kustomization v1", `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  path: ./overlays/prod
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`},
	{"Kustomization v1 without namespace; status is dropped before validation", `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  labels: {app.kubernetes.io/part-of: invenio}
spec:
  interval: 1h30m
  path: ./
  prune: false
  sourceRef: {kind: OCIRepository, name: platform, namespace: flux-system}
  dependsOn: [{name: infra}]
  postBuild:
    substitute: {cluster: prod}
status: {observedGeneration: not-a-number}
`},
	{"GitRepository v1", `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec:
  url: https://github.com/example/platform
  interval: 1m
  ref: {branch: main}
  secretRef: {name: git-credentials}
`},
	{"OCIRepository v1", `
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: platform, namespace: flux-system}
spec:
  url: oci://ghcr.io/example/platform
  interval: 5m
  ref: {tag: latest}
`},
	{"HelmRepository v1", `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: bitnami, namespace: flux-system}
spec:
  url: https://charts.bitnami.com/bitnami
  interval: 1h
`},
	{"HelmChart v1", `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmChart
metadata: {name: redis, namespace: flux-system}
spec:
  chart: redis
  version: 19.x
  interval: 1h
  sourceRef: {kind: HelmRepository, name: bitnami}
`},
	{"HelmRelease v2, values are free-form", `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: invenio}
spec:
  interval: 10m
  releaseName: redis
  chart:
    spec:
      chart: redis
      version: 19.6.4
      sourceRef: {kind: HelmRepository, name: bitnami, namespace: flux-system}
  install:
    remediation: {retries: 3}
  values:
    architecture: standalone
    auth: {enabled: false, anyUnknownKey: [1, 2.5, "x"]}
`},
	{"SealedSecret v1alpha1", `
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: invenio-secrets, namespace: invenio}
spec:
  encryptedData:
    INVENIO_SECRET_KEY: AgBy3i4OJSWK+PiTySYZZA==
  template:
    metadata:
      name: invenio-secrets
      namespace: invenio
      labels: {app: invenio}
    type: Opaque
`},
	{"ClusterIssuer v1, ACME HTTP-01 via ingress class", `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    email: ops@example.org
    privateKeySecretRef: {name: letsencrypt-account-key}
    solvers:
    - http01:
        ingress: {ingressClassName: nginx}
`},
	{"ServiceMonitor v1", `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: postgresql-exporter, namespace: invenio, labels: {release: kube-prometheus-stack}}
spec:
  selector: {matchLabels: {app.kubernetes.io/name: postgresql-exporter}}
  endpoints: [{port: metrics, path: /metrics, interval: 30s}]
`},
	{"PrometheusRule v1", `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: invenio, namespace: invenio}
spec:
  groups:
  - name: invenio
    rules:
    - alert: InvenioDatabaseDown
      expr: pg_up == 0
      for: 2m
      labels: {severity: critical}
      annotations: {summary: down}
`},
	{"ClusterIssuer v1 with metadata.namespace, which the server ignores", `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: self-signed, namespace: invenio}
spec: {selfSigned: {}}
`},
	{"Issuer v1", `
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: ca, namespace: invenio}
spec:
  ca: {secretName: ca-key-pair}
`},
	{"Certificate v1", `
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: invenio-tls, namespace: invenio}
spec:
  secretName: invenio-tls
  dnsNames: [invenio.example.org]
  issuerRef: {name: letsencrypt, kind: ClusterIssuer, group: cert-manager.io}
  privateKey: {algorithm: ECDSA, size: 256}
`},
}

func TestValidateAcceptsValidObjects(t *testing.T) {
	s := mustLoad(t)
	for _, tc := range validObjects {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff([]string(nil), messages(s.Validate(parse(t, tc.doc)))); diff != "" {
				t.Errorf("Validate() errors (-want +got):\n%s", diff)
			}
		})
	}
}

// Every case here must come back with exactly the listed errors, so a
// validator that accepted everything would fail every one of them.
func TestValidateRejectsInvalidObjects(t *testing.T) {
	s := mustLoad(t)
	const ks = "Kustomization flux-system/apps (kustomize.toolkit.fluxcd.io/v1): "
	// What the API server adds when a CRD has CEL rules and the schema
	// errors include a required, type, enum or size error.
	const blocked = "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
	kustomization := func(spec string) string {
		return `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:` + spec
	}
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "missing required field",
			doc: kustomization(`
  interval: 10m
  path: ./
  prune: true`),
			want: []string{ks + blocked, ks + "spec.sourceRef: Required value"},
		},
		{
			name: "wrong type",
			doc: kustomization(`
  interval: 5
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}`),
			want: []string{ks + blocked, ks + `spec.interval: Invalid value: "integer": spec.interval in body must be of type string: "integer"`},
		},
		{
			name: "pattern",
			doc: kustomization(`
  interval: 5 minutes
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}`),
			want: []string{ks + `spec.interval: Invalid value: "5 minutes": spec.interval in body should match '^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$'`},
		},
		{
			name: "enum",
			doc: kustomization(`
  interval: 5m
  prune: true
  sourceRef: {kind: HelmRepository, name: flux-system}`),
			want: []string{ks + blocked, ks + `spec.sourceRef.kind: Unsupported value: "HelmRepository": supported values: "OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"`},
		},
		{
			name: "unknown field",
			doc: kustomization(`
  interval: 5m
  prune: true
  prun: true
  sourceRef: {kind: GitRepository, name: flux-system}`),
			want: []string{ks + `unknown field "spec.prun"`},
		},
		{
			name: "misspelt required field is unknown and missing",
			doc: kustomization(`
  interval: 5m
  prun: true
  sourceRef: {kind: GitRepository, name: flux-system}`),
			want: []string{
				ks + blocked,
				ks + "spec.prune: Required value",
				ks + `unknown field "spec.prun"`,
			},
		},
		{
			name: "unknown field in metadata and at the root",
			doc: `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system, label: {a: b}}
spec: {interval: 5m, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
extra: 1
`,
			want: []string{
				ks + `unknown field "extra"`,
				ks + `unknown field "metadata.label"`,
			},
		},
		{
			name: "invalid metadata.name",
			doc: `
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: Bitnami_Charts, namespace: flux-system}
spec: {url: https://charts.bitnami.com/bitnami, interval: 1h}
`,
			want: []string{`HelmRepository flux-system/Bitnami_Charts (source.toolkit.fluxcd.io/v1): metadata.name: Invalid value: "Bitnami_Charts": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name: "CEL rule (x-kubernetes-validations)",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: invenio}
spec:
  interval: 10m
  chart: {spec: {chart: redis, sourceRef: {kind: HelmRepository, name: bitnami}}}
  chartRef: {kind: OCIRepository, name: redis}
`,
			want: []string{`HelmRelease invenio/redis (helm.toolkit.fluxcd.io/v2): spec: Invalid value: either chart or chartRef must be set`},
		},
		{
			name: "CEL rules are skipped when the schema already failed",
			doc: `
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: invenio}
spec:
  interval: 10m
  chart: {spec: {sourceRef: {kind: HelmRepository, name: bitnami}}}
  chartRef: {kind: OCIRepository, name: redis}
`,
			want: []string{
				`HelmRelease invenio/redis (helm.toolkit.fluxcd.io/v2): ` + blocked,
				`HelmRelease invenio/redis (helm.toolkit.fluxcd.io/v2): spec.chart.spec.chart: Required value`,
			},
		},
		{
			name: "SealedSecret without encryptedData",
			doc: `
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: s, namespace: invenio}
spec: {template: {type: Opaque}}
`,
			want: []string{`SealedSecret invenio/s (bitnami.com/v1alpha1): spec.encryptedData: Required value`},
		},
		{
			name: "ClusterIssuer ACME without account key secret",
			doc: `
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {name: letsencrypt}
spec:
  acme:
    server: https://acme-v02.api.letsencrypt.org/directory
    solvers: [{http01: {ingress: {ingressClassName: nginx}}}]
`,
			want: []string{
				`ClusterIssuer letsencrypt (cert-manager.io/v1): ` + blocked,
				`ClusterIssuer letsencrypt (cert-manager.io/v1): spec.acme.privateKeySecretRef: Required value`,
			},
		},
		{
			name: "unknown kind in a known group",
			doc: `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomisation
metadata: {name: apps, namespace: flux-system}
`,
			want: []string{`Kustomisation flux-system/apps (kustomize.toolkit.fluxcd.io/v1): no CRD defines kind "Kustomisation" in group "kustomize.toolkit.fluxcd.io"`},
		},
		{
			name: "kind without a CRD",
			doc: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
`,
			want: []string{`Deployment web (apps/v1): no CRD defines kind "Deployment" in group "apps"`},
		},
		{
			name: "version not served",
			doc: `
apiVersion: kustomize.toolkit.fluxcd.io/v1beta2
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec: {interval: 5m, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`,
			want: []string{`Kustomization flux-system/apps (kustomize.toolkit.fluxcd.io/v1beta2): version "v1beta2" is not served by CRD kustomizations.kustomize.toolkit.fluxcd.io (served: v1)`},
		},
		{
			name: "ServiceMonitor interval in words",
			doc: `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x, namespace: invenio}
spec:
  selector: {matchLabels: {app: x}}
  endpoints: [{port: metrics, interval: 30 seconds}]
`,
			want: []string{`ServiceMonitor invenio/x (monitoring.coreos.com/v1): spec.endpoints[0].interval: Invalid value: "30 seconds": spec.endpoints[0].interval in body should match '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'`},
		},
		{
			name: "PrometheusRule without expr",
			doc: `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x, namespace: invenio}
spec:
  groups: [{name: g, rules: [{alert: A, for: 5m}]}]
`,
			want: []string{"PrometheusRule invenio/x (monitoring.coreos.com/v1): spec.groups[0].rules[0].expr: Required value"},
		},
		{
			name: "no apiVersion",
			doc:  `{kind: Kustomization, metadata: {name: apps}}`,
			want: []string{`object has no apiVersion or kind (apiVersion: <nil>, kind: Kustomization)`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) == 0 {
				t.Fatal("a negative case must expect errors")
			}
			if diff := cmp.Diff(tc.want, messages(s.Validate(parse(t, tc.doc)))); diff != "" {
				t.Errorf("Validate() errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateDoesNotModifyTheObject(t *testing.T) {
	s := mustLoad(t)
	for _, tc := range validObjects {
		obj := parse(t, tc.doc)
		s.Validate(obj)
		if diff := cmp.Diff(parse(t, tc.doc), obj); diff != "" {
			t.Errorf("%s: Validate modified its argument (-before +after):\n%s", tc.name, diff)
		}
	}
}

func TestValidateAcceptsGoTypes(t *testing.T) {
	// Objects built in Go rather than unmarshalled: int rather than int64,
	// []string and map[string]string rather than []any and map[string]any.
	obj := map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "Certificate",
		"metadata":   map[string]any{"name": "tls", "namespace": "invenio", "labels": map[string]string{"a": "b"}},
		"spec": map[string]any{
			"secretName": "tls",
			"dnsNames":   []string{"invenio.example.org"},
			"issuerRef":  map[string]string{"name": "letsencrypt", "kind": "ClusterIssuer"},
			"privateKey": map[string]any{"algorithm": "ECDSA", "size": 256},
		},
	}
	if diff := cmp.Diff([]string(nil), messages(mustLoad(t).Validate(obj))); diff != "" {
		t.Errorf("Validate() errors (-want +got):\n%s", diff)
	}
}

func TestKinds(t *testing.T) {
	want := []schema.GroupVersionKind{
		{Group: "bitnami.com", Version: "v1alpha1", Kind: "SealedSecret"},
		{Group: "cert-manager.io", Version: "v1", Kind: "Certificate"},
		{Group: "cert-manager.io", Version: "v1", Kind: "ClusterIssuer"},
		{Group: "cert-manager.io", Version: "v1", Kind: "Issuer"},
		{Group: "gateway.envoyproxy.io", Version: "v1alpha1", Kind: "ClientTrafficPolicy"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "BackendTLSPolicy"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GRPCRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "Gateway"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "GatewayClass"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "ListenerSet"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "ReferenceGrant"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "TCPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "TLSRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1", Kind: "UDPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "Gateway"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "GatewayClass"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "HTTPRoute"},
		{Group: "gateway.networking.k8s.io", Version: "v1beta1", Kind: "ReferenceGrant"},
		{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
		{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"},
		{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"},
		{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"},
		{Group: "route.openshift.io", Version: "v1", Kind: "Route"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "Bucket"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "ExternalArtifact"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmChart"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "HelmRepository"},
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "OCIRepository"},
	}
	s := mustLoad(t)
	if diff := cmp.Diff(want, s.Kinds()); diff != "" {
		t.Errorf("Kinds() (-want +got):\n%s", diff)
	}
	for _, g := range []string{"bitnami.com", "cert-manager.io", "gateway.envoyproxy.io", "gateway.networking.k8s.io", "helm.toolkit.fluxcd.io", "kustomize.toolkit.fluxcd.io", "monitoring.coreos.com", "source.toolkit.fluxcd.io"} {
		if !s.HasGroup(g) {
			t.Errorf("HasGroup(%q) = false", g)
		}
	}
	for _, g := range []string{"", "apps", "notification.toolkit.fluxcd.io"} {
		if s.HasGroup(g) {
			t.Errorf("HasGroup(%q) = true", g)
		}
	}
}

// The embedded files are what scripts/crds.sh wrote: one CRD each, with a
// first line that says where it came from.
func TestEmbeddedCRDs(t *testing.T) {
	paths, err := fs.Glob(files, "*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no embedded CRDs")
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			data, err := fs.ReadFile(files, p)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			if !strings.HasPrefix(first, "# Source: github.com/") || !strings.Contains(first, "@v") || !strings.HasSuffix(first, "Regenerate with: bash scripts/crds.sh") {
				t.Errorf("first line %q does not name the source module@version and scripts/crds.sh", first)
			}
			docs, err := splitYAML(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) != 1 {
				t.Errorf("%d YAML documents, want 1 CRD", len(docs))
			}
		})
	}
	// Load checks what the API server checks of a CRD's schemas (structural,
	// defaults valid and pruned) and compiles every validator.
	mustLoad(t)
}

func TestLoadRejectsBadInput(t *testing.T) {
	good, err := fs.ReadFile(files, "sealed-secrets/bitnami.com_sealedsecrets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no files", map[string]string{}, "crds: no CRD files embedded"},
		{"not a CRD", map[string]string{"x/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
			"crds: x/bad.yaml document 1: v1 ConfigMap is not an apiextensions.k8s.io/v1 CustomResourceDefinition"},
		{"unknown CRD field", map[string]string{"x/bad.yaml": "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {grop: x}\n"},
			`crds: x/bad.yaml document 1: error unmarshaling JSON: while decoding JSON: json: unknown field "grop"`},
		{"duplicate kind", map[string]string{"a/ss.yaml": string(good), "b/ss.yaml": string(good)},
			"crds: a/ss.yaml and b/ss.yaml both define SealedSecret.bitnami.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, data := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(data)}
			}
			_, err := load(fsys)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("load() error (-want +got):\n%s", diff)
			}
		})
	}
}

// The Set is shared by every caller of Load, and Validate leaves its
// argument alone: run with -race.
func TestValidateConcurrently(t *testing.T) {
	s := mustLoad(t)
	var objs []map[string]any
	for _, tc := range validObjects {
		objs = append(objs, parse(t, tc.doc))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, obj := range objs {
				if errs := s.Validate(obj); len(errs) > 0 {
					t.Errorf("%s: %v", validObjects[i].name, errs)
				}
			}
		}()
	}
	wg.Wait()
}

// Manifests hands out exactly the embedded CRDs, each one a CRD.
func TestManifests(t *testing.T) {
	m, err := Manifests()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := fs.Glob(files, "*/*.yaml")
	if len(m) != len(paths) || len(m) == 0 {
		t.Fatalf("Manifests() has %d files, the package embeds %d", len(m), len(paths))
	}
	for p, b := range m {
		if !strings.Contains(string(b), "\nkind: CustomResourceDefinition\n") {
			t.Errorf("%s is not a CustomResourceDefinition", p)
		}
	}
}
