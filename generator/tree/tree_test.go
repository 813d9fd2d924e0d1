package tree

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestMarshalIsDeterministic(t *testing.T) {
	// The same content built in two insertion orders (Go randomises map
	// iteration, so repeat to give a difference the chance to show).
	build := func(order []string) Doc {
		d := Doc{}
		inner := map[string]any{}
		for _, k := range order {
			d[k] = k + "-value"
			inner[k] = []any{k, map[string]any{"z": 1, "a": 2}}
		}
		d["nested"] = inner
		return d
	}
	keys := []string{"kind", "apiVersion", "metadata", "spec", "zeta", "alpha", "data"}
	rev := make([]string, len(keys))
	for i, k := range keys {
		rev[len(keys)-1-i] = k
	}
	first, err := Marshal(build(keys), build(rev))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		b, err := Marshal(build(rev), build(keys))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(first), string(b)); diff != "" {
			t.Fatalf("Marshal differs between runs (-first +now):\n%s", diff)
		}
	}
	s := string(first)
	if strings.Count(s, "---\n") != 1 {
		t.Errorf("want two documents separated by one ---:\n%s", s)
	}
	if strings.Index(s, "alpha:") > strings.Index(s, "zeta:") {
		t.Errorf("keys not sorted:\n%s", s)
	}
}

func TestMarshalObjectsMatchesToDoc(t *testing.T) {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{"b": "2", "a": "1"}},
		Data:       map[string]string{"k": "v"},
	}
	got, err := MarshalObjects(cm)
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: v1\ndata:\n  k: v\nkind: ConfigMap\nmetadata:\n  labels:\n    a: \"1\"\n    b: \"2\"\n  name: x\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestToDocDropsEmptyFields(t *testing.T) {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "x:1"}}},
			},
		},
	}
	doc, err := ToDoc(d)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, bad := range []string{"creationTimestamp", "status:", "strategy:", "null"} {
		if strings.Contains(s, bad) {
			t.Errorf("output contains %q:\n%s", bad, s)
		}
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(doc, "metadata", "creationTimestamp"); ok {
		t.Errorf("metadata.creationTimestamp kept: %v", doc["metadata"])
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(doc, "spec", "template", "metadata", "creationTimestamp"); ok {
		t.Errorf("template creationTimestamp kept")
	}
	if _, ok := doc["status"]; ok {
		t.Errorf("empty status kept")
	}

	// A non-empty status, and empty maps not in the drop list, are kept.
	d.Status.Replicas = 2
	doc, err = ToDoc(d)
	if err != nil {
		t.Fatal(err)
	}
	if r, _, _ := unstructured.NestedFieldNoCopy(doc, "status", "replicas"); r != float64(2) {
		t.Errorf("non-empty status = %v", doc["status"])
	}
	containers, _, _ := unstructured.NestedSlice(doc, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		t.Fatal("no container")
	}
	if r, ok, err := unstructured.NestedMap(containers[0].(map[string]any), "resources"); !ok || err != nil || len(r) != 0 {
		t.Errorf("container resources = %#v (%v), want the empty mapping kept", r, err)
	}
}

func TestToDocNullsInsideLists(t *testing.T) {
	doc, err := ToDoc(map[string]any{"a": nil, "list": []any{map[string]any{"x": nil, "y": 1}}, "keep": "v"})
	if err != nil {
		t.Fatal(err)
	}
	want := Doc{"keep": "v", "list": []any{map[string]any{"y": float64(1)}}}
	if diff := cmp.Diff(want, doc); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPathsAndUnder(t *testing.T) {
	tr := Tree{"overlays/dev/b": nil, "base/a": nil, "overlays/dev/a": nil, "overlays/devx/a": nil}
	if diff := cmp.Diff([]string{"base/a", "overlays/dev/a", "overlays/dev/b", "overlays/devx/a"}, tr.Paths()); diff != "" {
		t.Errorf("Paths (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, tr.Under("overlays/dev/").Paths()); diff != "" {
		t.Errorf("Under (-want +got):\n%s", diff)
	}
}

func TestWith(t *testing.T) {
	a := Tree{"x": []byte("a"), "y": []byte("a")}
	got := a.With(Tree{"y": []byte("b"), "z": []byte("b")})
	want := Tree{"x": []byte("a"), "y": []byte("b"), "z": []byte("b")}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("With (-want +got):\n%s", diff)
	}
	if len(a) != 2 || string(a["y"]) != "a" {
		t.Errorf("With changed its receiver: %v", a)
	}
}
