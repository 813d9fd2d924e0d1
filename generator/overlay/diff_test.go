package overlay

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	var d map[string]any
	if err := yaml.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// object is a manifest of kind (apiVersion/kind) named x with body (YAML
// of the remaining top-level fields).
func object(t *testing.T, kind, body string) map[string]any {
	t.Helper()
	d := doc(t, body)
	if d == nil {
		d = map[string]any{}
	}
	av, k, _ := cutLast(kind)
	d["apiVersion"], d["kind"] = av, k
	if err := unstructured.SetNestedField(d, "x", "metadata", "name"); err != nil {
		t.Fatal(err)
	}
	return d
}

func cutLast(s string) (string, string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return "", s, false
}

// kustomize applies patch to from as a strategic-merge patch of
// kustomize's (krusty, in memory) and returns the result.
func kustomize(t *testing.T, from, patch map[string]any) map[string]any {
	t.Helper()
	p := map[string]any{}
	for k, v := range patch {
		p[k] = v
	}
	// The patch names its object, as writePatch does, besides what it
	// changes of the metadata.
	p["apiVersion"], p["kind"] = from["apiVersion"], from["kind"]
	if err := unstructured.SetNestedField(p, "x", "metadata", "name"); err != nil {
		t.Fatal(err)
	}
	fs := filesys.MakeFsInMemory()
	for name, v := range map[string]any{
		"/k/from.yaml":          from,
		"/k/patch.yaml":         p,
		"/k/kustomization.yaml": map[string]any{"resources": []string{"from.yaml"}, "patches": []map[string]string{{"path": "patch.yaml"}}},
	} {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(name, b); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatalf("kustomize build: %v\npatch:\n%v", err, p)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return doc(t, string(out))
}

// TestDiff: each patch is the expected one, and kustomize applying it to
// from yields to exactly.
func TestDiff(t *testing.T) {
	const (
		pod     = "v1/Pod"
		service = "v1/Service"
		cm      = "v1/ConfigMap"
		monitor = "monitoring.coreos.com/v1/ServiceMonitor"
	)
	for _, tc := range []struct {
		name     string
		kind     string
		from, to string
		want     string // expected patch; "" for no change
	}{
		{"identical", cm, "data: {a: '1'}", "data: {a: '1'}", ""},
		{"scalar changed", cm, "data: {a: '1', b: '2'}", "data: {a: '1', b: '3'}", "data: {b: '3'}"},
		{"key added", cm, "data: {a: '1'}", "data: {a: '1'}\nbinaryData: {c: ZA==}", "binaryData: {c: ZA==}"},
		{"key removed becomes null", cm, "data: {a: '1', b: '2'}", "data: {a: '1'}", "data: {b: null}"},
		{"nested change only", pod, "spec: {restartPolicy: Always, hostNetwork: false}", "spec: {restartPolicy: Always, hostNetwork: true}", "spec: {hostNetwork: true}"},
		{"atomic list replaced whole", pod,
			"spec: {containers: [{name: a, image: x, args: [a, b]}]}",
			"spec: {containers: [{name: a, image: x, args: [a, c]}]}",
			"spec: {containers: [{name: a, args: [a, c]}]}"},
		{"keyed list: first element changed", pod,
			"spec: {containers: [{name: a, image: x}, {name: b, image: y}]}",
			"spec: {containers: [{name: a, image: z}, {name: b, image: y}]}",
			"spec: {containers: [{name: a, image: z}]}"},
		// kustomize moves the elements a patch names to the front: naming
		// only b would put it before a, so a is named too (by key alone).
		{"keyed list: later element changed keeps the order", pod,
			"spec: {containers: [{name: a, image: x}, {name: b, image: y}]}",
			"spec: {containers: [{name: a, image: x}, {name: b, image: z}]}",
			"spec: {containers: [{name: a}, {name: b, image: z}]}"},
		{"keyed list: element changed and another removed", pod,
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}, {name: B, value: '2'}, {name: C, value: '3'}]}]}",
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}, {name: C, value: '30'}]}]}",
			"spec: {containers: [{name: a, env: [{name: A}, {name: C, value: '30'}, {name: B, $patch: delete}]}]}"},
		{"keyed list: new element first is merged", pod,
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}]}]}",
			"spec: {containers: [{name: a, env: [{name: N, value: '0'}, {name: A, value: '1'}]}]}",
			"spec: {containers: [{name: a, env: [{name: N, value: '0'}]}]}"},
		{"keyed list: element removed", pod,
			"spec: {volumes: [{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]}",
			"spec: {volumes: [{name: a, emptyDir: {}}]}",
			"spec: {volumes: [{name: b, $patch: delete}]}"},
		{"keyed list: new element last cannot merge, list replaced (kustomize would merge it without the directive)", pod,
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}]}]}",
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}, {name: N, value: '0'}]}]}",
			"spec: {containers: [{name: a, env: [{name: A, value: '1'}, {name: N, value: '0'}, {$patch: replace}]}]}"},
		{"keyed list: reorder replaces", pod,
			"spec: {containers: [{name: a, env: [{name: A}, {name: B}]}]}",
			"spec: {containers: [{name: a, env: [{name: B}, {name: A}]}]}",
			"spec: {containers: [{name: a, env: [{name: B}, {name: A}, {$patch: replace}]}]}"},
		{"volumeMounts keyed by mountPath", pod,
			"spec: {containers: [{name: a, volumeMounts: [{name: a, mountPath: /x}, {name: b, mountPath: /y}]}]}",
			"spec: {containers: [{name: a, volumeMounts: [{name: a, mountPath: /x, readOnly: true}, {name: b, mountPath: /y}]}]}",
			"spec: {containers: [{name: a, volumeMounts: [{mountPath: /x, readOnly: true}]}]}"},
		{"service ports keyed by port and protocol", service,
			"spec: {ports: [{name: http, port: 80, protocol: TCP}]}",
			"spec: {ports: [{name: web, port: 80, protocol: TCP}]}",
			"spec: {ports: [{name: web, port: 80, protocol: TCP}]}"},
		// kustomize matches ports by port and protocol: a patch naming a
		// port without its protocol matches no port.
		{"service port removed names its protocol", service,
			"spec: {ports: [{name: metrics, port: 9113, protocol: TCP}, {name: http, port: 8080, protocol: TCP}]}",
			"spec: {ports: [{name: http, port: 8080, protocol: TCP}]}",
			"spec: {ports: [{port: 9113, protocol: TCP, $patch: delete}]}"},
		{"container port changed names its protocol", pod,
			"spec: {containers: [{name: a, ports: [{name: http, containerPort: 80, protocol: TCP}]}]}",
			"spec: {containers: [{name: a, ports: [{name: web, containerPort: 80, protocol: TCP}]}]}",
			"spec: {containers: [{name: a, ports: [{name: web, containerPort: 80, protocol: TCP}]}]}"},
		// Lists the old hand-kept table of merge keys did not know.
		{"container port's protocol changed is another port", pod,
			"spec: {containers: [{name: a, ports: [{name: dns, containerPort: 53, protocol: TCP}]}]}",
			"spec: {containers: [{name: a, ports: [{name: dns, containerPort: 53, protocol: UDP}]}]}",
			"spec: {containers: [{name: a, ports: [{name: dns, containerPort: 53, protocol: UDP}, {containerPort: 53, protocol: TCP, $patch: delete}]}]}"},
		{"tolerations are atomic: replaced whole", pod,
			"spec: {tolerations: [{key: a, operator: Exists}, {key: b, operator: Exists}]}",
			"spec: {tolerations: [{key: a, operator: Exists}]}",
			"spec: {tolerations: [{key: a, operator: Exists}]}"},
		{"topology spread constraints keyed by topologyKey and whenUnsatisfiable", pod,
			"spec: {topologySpreadConstraints: [{topologyKey: zone, whenUnsatisfiable: DoNotSchedule, maxSkew: 1}, {topologyKey: host, whenUnsatisfiable: ScheduleAnyway, maxSkew: 1}]}",
			"spec: {topologySpreadConstraints: [{topologyKey: zone, whenUnsatisfiable: DoNotSchedule, maxSkew: 1}, {topologyKey: host, whenUnsatisfiable: ScheduleAnyway, maxSkew: 2}]}",
			"spec: {topologySpreadConstraints: [{topologyKey: zone, whenUnsatisfiable: DoNotSchedule}, {topologyKey: host, whenUnsatisfiable: ScheduleAnyway, maxSkew: 2}]}"},
		{"host aliases keyed by ip", pod,
			"spec: {hostAliases: [{ip: 10.0.0.1, hostnames: [a]}, {ip: 10.0.0.2, hostnames: [b]}]}",
			"spec: {hostAliases: [{ip: 10.0.0.1, hostnames: [a]}]}",
			"spec: {hostAliases: [{ip: 10.0.0.2, $patch: delete}]}"},
		// kyaml matches a port without protocol with the same port with
		// one: element-wise patches would lose the protocol, so the list
		// is replaced.
		{"a port gains its protocol: replaced", service,
			"spec: {ports: [{name: http, port: 80}]}",
			"spec: {ports: [{name: http, port: 80, protocol: TCP}]}",
			"spec: {ports: [{name: http, port: 80, protocol: TCP}, {$patch: replace}]}"},
		{"a port loses its protocol: replaced", service,
			"spec: {ports: [{name: http, port: 80, protocol: TCP}]}",
			"spec: {ports: [{name: web, port: 80}]}",
			"spec: {ports: [{name: web, port: 80}, {$patch: replace}]}"},
		// A merge list of scalars is a set to kustomize: given whole, its
		// values would be added to what is there.
		{"finalizers (a set) replaced", cm,
			"metadata: {finalizers: [a, b]}",
			"metadata: {finalizers: [a]}",
			"metadata: {finalizers: [a, {$patch: replace}]}"},
		{"labels: one changed, one removed", cm,
			"metadata: {labels: {a: '1', b: '2'}}",
			"metadata: {labels: {a: '3'}}",
			"metadata: {labels: {a: '3', b: null}}"},
		// kustomize has no schema for a custom resource: its lists are
		// replaced whole, whatever their elements are named by.
		{"custom resource lists replaced whole", monitor,
			"spec: {endpoints: [{port: a, interval: 30s}, {port: b, interval: 30s}]}",
			"spec: {endpoints: [{port: a, interval: 30s}, {port: b, interval: 60s}]}",
			"spec: {endpoints: [{port: a, interval: 30s}, {port: b, interval: 60s}]}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := object(t, tc.kind, tc.from), object(t, tc.kind, tc.to)
			got, changed := Diff(from, to)
			if tc.want == "" {
				if changed {
					t.Fatalf("want no change, got %v", got)
				}
				return
			}
			if !changed {
				t.Fatal("want a change, got none")
			}
			if d := cmp.Diff(doc(t, tc.want), got); d != "" {
				t.Errorf("patch (-want +got):\n%s", d)
			}
			if d := cmp.Diff(to, kustomize(t, from, got)); d != "" {
				t.Errorf("kustomize applying the patch (-want +got):\n%s", d)
			}
		})
	}
}

// TestTwoWayMergePatchesAreNotKustomizes records why Diff does not use
// apimachinery's strategicpatch.CreateTwoWayMergePatch: its patches order
// lists with `$setElementOrder/<list>` directives, which the API server's
// merge honours and kustomize's (kyaml merge2) does not: kustomize puts
// the patched element first and copies the directive into the object as a
// field. Should kustomize learn the directive, this test fails and Diff
// can become the library call.
func TestTwoWayMergePatchesAreNotKustomizes(t *testing.T) {
	from := object(t, "v1/Pod", "spec: {containers: [{name: a, image: x}, {name: b, image: y}]}")
	to := object(t, "v1/Pod", "spec: {containers: [{name: a, image: x}, {name: b, image: z}]}")
	fj, err1 := json.Marshal(from)
	tj, err2 := json.Marshal(to)
	pj, err3 := strategicpatch.CreateTwoWayMergePatch(fj, tj, corev1.Pod{})
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	p := doc(t, string(pj)) // JSON is YAML
	want := object(t, "v1/Pod", "spec: {$setElementOrder/containers: [{name: a}, {name: b}], containers: [{name: b, image: z}, {name: a, image: x}]}")
	if d := cmp.Diff(want, kustomize(t, from, p)); d != "" {
		t.Errorf("kustomize applies %s differently now (-was +now): consider strategicpatch in Diff\n%s", pj, d)
	}
}
