package overlay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		want     string // expected patch; "" for no change
	}{
		{"identical", "a: 1\nb: [x]", "a: 1\nb: [x]", ""},
		{"scalar changed", "a: 1\nb: 2", "a: 1\nb: 3", "b: 3"},
		{"key added", "a: 1", "a: 1\nc: {d: e}", "c: {d: e}"},
		{"key removed becomes null", "a: 1\nb: 2", "a: 1", "b: null"},
		{"nested change only", "spec: {replicas: 1, paused: false}", "spec: {replicas: 1, paused: true}", "spec: {paused: true}"},
		{"plain list replaced whole", "args: [a, b]", "args: [a, c]", "args: [a, c]"},
		{"keyed list: first element changed",
			"containers: [{name: a, image: x}, {name: b, image: y}]",
			"containers: [{name: a, image: z}, {name: b, image: y}]",
			"containers: [{name: a, image: z}]"},
		// kustomize moves the elements a patch names to the front: naming
		// only b would put it before a, so a is named too (by key alone).
		{"keyed list: later element changed keeps the order",
			"containers: [{name: a, image: x}, {name: b, image: y}]",
			"containers: [{name: a, image: x}, {name: b, image: z}]",
			"containers: [{name: a}, {name: b, image: z}]"},
		{"keyed list: element changed and another removed",
			"env: [{name: A, value: '1'}, {name: B, value: '2'}, {name: C, value: '3'}]",
			"env: [{name: A, value: '1'}, {name: C, value: '30'}]",
			"env: [{name: A}, {name: C, value: '30'}, {name: B, $patch: delete}]"},
		{"keyed list: new element first is merged",
			"env: [{name: A, value: '1'}]",
			"env: [{name: N, value: '0'}, {name: A, value: '1'}]",
			"env: [{name: N, value: '0'}]"},
		{"keyed list: element removed",
			"volumes: [{name: a}, {name: b}]",
			"volumes: [{name: a}]",
			"volumes: [{name: b, $patch: delete}]"},
		{"keyed list: new element last cannot merge, list replaced (kustomize would merge it without the directive)",
			"env: [{name: A, value: '1'}]",
			"env: [{name: A, value: '1'}, {name: N, value: '0'}]",
			"env: [{name: A, value: '1'}, {name: N, value: '0'}, {$patch: replace}]"},
		{"keyed list: reorder replaces",
			"env: [{name: A}, {name: B}]",
			"env: [{name: B}, {name: A}]",
			"env: [{name: B}, {name: A}, {$patch: replace}]"},
		{"volumeMounts keyed by mountPath",
			"volumeMounts: [{name: a, mountPath: /x}, {name: b, mountPath: /y}]",
			"volumeMounts: [{name: a, mountPath: /x, readOnly: true}, {name: b, mountPath: /y}]",
			"volumeMounts: [{mountPath: /x, readOnly: true}]"},
		{"service ports keyed by port",
			"spec: {ports: [{name: http, port: 80}]}",
			"spec: {ports: [{name: web, port: 80}]}",
			"spec: {ports: [{name: web, port: 80}]}"},
		// kustomize matches ports by port and protocol: a patch naming a
		// port without its protocol matches no port.
		{"service port removed names its protocol",
			"spec: {ports: [{name: metrics, port: 9113, protocol: TCP}, {name: http, port: 8080, protocol: TCP}]}",
			"spec: {ports: [{name: http, port: 8080, protocol: TCP}]}",
			"spec: {ports: [{port: 9113, protocol: TCP, $patch: delete}]}"},
		{"container port changed names its protocol",
			"ports: [{name: http, containerPort: 80, protocol: TCP}]",
			"ports: [{name: web, containerPort: 80, protocol: TCP}]",
			"ports: [{name: web, containerPort: 80, protocol: TCP}]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := Diff(doc(t, tc.from), doc(t, tc.to))
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
		})
	}
}
