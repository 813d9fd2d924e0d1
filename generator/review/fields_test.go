package review

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffObject(t *testing.T) {
	id := ID{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "web"}
	cases := []struct {
		name     string
		old, new string
		want     []string
	}{
		{name: "same values, other formatting", old: "spec: {containers: [{name: a, image: 'x:1'}]}",
			new: "# a comment\nspec:\n  containers:\n    - image: \"x:1\"\n      name: a\n"},
		{name: "reordered keyed list is no change", old: "spec: {containers: [{name: a, image: x}, {name: b, image: y}]}",
			new: "spec: {containers: [{name: b, image: y}, {name: a, image: x}]}"},
		{name: "inserted element is one change", old: "spec: {containers: [{name: a, image: x}, {name: b, image: y}]}",
			new:  "spec: {containers: [{name: c, image: z}, {name: a, image: x}, {name: b, image: y}]}",
			want: []string{`spec.containers[name=c]: (none) → {"image":"z","name":"c"}`}},
		{name: "field inside a keyed element", old: "spec: {ports: [{containerPort: 80, protocol: TCP}]}", new: "spec: {ports: [{containerPort: 80, protocol: UDP}]}",
			want: []string{"spec.ports[containerPort=80].protocol: TCP → UDP"}},
		{name: "keys with dots and slashes", old: "metadata: {labels: {app.kubernetes.io/version: a}}", new: "metadata: {labels: {app.kubernetes.io/version: b}}",
			want: []string{"metadata.labels[app.kubernetes.io/version]: a → b"}},
		{name: "unkeyed list: a moved element", old: "args: [a, b]", new: "args: [b, a]", want: []string{"args[0]: a → (none)", "args[1]: (none) → a"}},
		{name: "unkeyed list: an inserted element", old: "from: [{p: a}, {p: b}]", new: "from: [{p: a}, {p: x}, {p: b}]", want: []string{`from[1]: (none) → {"p":"x"}`}},
		{name: "unkeyed lists of objects by position", old: "rules: [{x: 1}, {x: 2}]", new: "rules: [{x: 1}, {x: 3}]", want: []string{"rules[1].x: 2 → 3"}},
		{name: "large numbers print as written", old: "spec: {count: 1000000}", new: "spec: {count: 2500000}", want: []string{"spec.count: 1000000 → 2500000"}},
		{name: "a number is not a string", old: "port: 80", new: "port: '80'", want: []string{"port: 80 → 80"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, f := range diffObject(id, doc(t, c.old), doc(t, c.new)) {
				got = append(got, f.Path+": "+render(f.Old)+" → "+render(f.New))
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNoSecretValueInAnyOutput: ciphertexts and Secret data never reach
// a report, in any format, whether a key is added, removed or re-sealed.
func TestNoSecretValueInAnyOutput(t *testing.T) {
	old := objects(t, `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: app, namespace: ns}
spec: {encryptedData: {kept: CIPHER-KEPT, resealed: CIPHER-OLD, dropped: CIPHER-DROPPED, "dotted.key": CIPHER-DOT1}}
---
apiVersion: v1
kind: Secret
metadata: {name: plain, namespace: ns}
data: {a: UExBSU4tT0xE}
stringData: {b: PLAIN-OLD}
`)
	new := objects(t, `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: app, namespace: ns}
spec: {encryptedData: {kept: CIPHER-KEPT, resealed: CIPHER-NEW, added: CIPHER-ADDED, "dotted.key": CIPHER-DOT2}}
---
apiVersion: v1
kind: Secret
metadata: {name: plain, namespace: ns}
data: {a: UExBSU4tTkVX}
stringData: {b: PLAIN-NEW}
---
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: fresh, namespace: ns}
spec: {encryptedData: {k: CIPHER-FRESH}}
`)
	r := Compare(Revision{"prod": old}, Revision{"prod": new})
	var out bytes.Buffer
	for _, write := range []func() error{
		func() error { return Text(&out, r, Style{}) },
		func() error { return Markdown(&out, r) },
		func() error { return JSON(&out, r) },
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	for _, secret := range []string{"CIPHER", "UExBSU4", "PLAIN"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("output contains %s:\n%s", secret, out.String())
		}
	}
	// The changes are still reported, without their values.
	for _, want := range []string{"re-sealed: dotted.key, resealed", "keys added: added", "keys removed: dropped", "new, keys k", "spec.encryptedData[dotted.key]: re-sealed", "data.a: re-sealed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLineDiff(t *testing.T) {
	cases := []struct {
		a, b string
		want []string
	}{
		{"a\nb\nc", "a\nb\nc", nil},
		{"a\nb\nc", "a\nB\nc", []string{"- b", "+ B"}},
		{"a\nb\nc\nd\ne", "x\na\nb\nc\nd", []string{"+ x", "…", "- e"}},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, lineDiff(c.a, c.b)); diff != "" {
			t.Errorf("lineDiff(%q, %q) (-want +got):\n%s", c.a, c.b, diff)
		}
	}
}

func TestSummaryAndExitStatus(t *testing.T) {
	a := objects(t, workloadYAML("web"))
	b := objects(t, workloadYAML("web")+workloadYAML("db"))
	same := Compare(Revision{"prod": a}, Revision{"prod": a})
	if same.Changes() || same.Scopes[0].Summary() != "prod: no changes" {
		t.Errorf("unchanged: Changes() = %v, summary %q", same.Changes(), same.Scopes[0].Summary())
	}
	changed := Compare(Revision{"prod": a, "dev": a}, Revision{"prod": b, "dev": a})
	if !changed.Changes() {
		t.Error("a workload added: Changes() = false")
	}
	var got []string
	for _, s := range changed.Scopes {
		got = append(got, s.Summary())
	}
	want := []string{"dev: no changes", "prod: 1 added, 0 removed, 0 changed (2 flagged)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
}

func TestLayerMove(t *testing.T) {
	d := objects(t, workloadYAML("web"))
	id := ID{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "web"}
	in := func(layer string) Objects { return Objects{id: {Doc: d[id].Doc, Layer: layer}} }
	r := Compare(Revision{"prod": in("prod-data")}, Revision{"prod": in("prod-app")})
	var b bytes.Buffer
	if err := Text(&b, r, Style{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prod: 0 added, 0 removed, 1 changed (1 flagged)", "moves from Kustomization prod-data to prod-app", "metadata.labels[kustomize.toolkit.fluxcd.io/name]: prod-data → prod-app  (set by Flux)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	for _, same := range []Report{
		Compare(Revision{"prod": in("prod-app")}, Revision{"prod": in("prod-app")}),
		Compare(Revision{"prod": in("")}, Revision{"prod": in("prod-app")}), // a revision without layers
	} {
		if same.Changes() {
			t.Errorf("no move: %+v", same.Scopes)
		}
	}
}
