//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"lbl.gov/invenio-gitops/generator/review"
)

// TestImmutableFieldsAgreeWithTheAPIServer: the changes `platformctl diff`
// and `generate` call refused are the ones the API server refuses. Every
// object of the edge description is applied for real; then each case
// changes one field of one of them, and the dry-run apply of the change
// must fail exactly when the review package says the API server refuses
// it (as refused, or as recreated by Flux's force for objects that carry
// it, such as the setup Job).
func TestImmutableFieldsAgreeWithTheAPIServer(t *testing.T) {
	p, objs, _ := edgeBuild(t)
	e := p.Environments[0]
	cl, ctx := startCluster(t, "immutable")
	mapper := cl.Mapper()
	ns, rest := splitNamespace(objs)
	if err := cl.ApplyAll(ctx, append([]*unstructured.Unstructured{ns}, rest...)); err != nil {
		t.Fatal(err)
	}
	find := func(kind, name string) *unstructured.Unstructured {
		for _, o := range rest {
			if o.GetKind() == kind && o.GetName() == name {
				return o
			}
		}
		t.Fatalf("the edge build has no %s %s", kind, name)
		return nil
	}
	set := func(value any, path ...string) func(*unstructured.Unstructured) {
		return func(o *unstructured.Unstructured) {
			if err := unstructured.SetNestedField(o.Object, value, path...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// inList edits element i of the list at path.
	inList := func(i int, f func(map[string]any), path ...string) func(*unstructured.Unstructured) {
		return func(o *unstructured.Unstructured) {
			l, _, _ := unstructured.NestedSlice(o.Object, path...)
			f(l[i].(map[string]any))
			if err := unstructured.SetNestedSlice(o.Object, l, path...); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name, kind, object string
		edit               func(*unstructured.Unstructured)
	}{
		{"StatefulSet selector", "StatefulSet", "postgresql", func(o *unstructured.Unstructured) {
			set("x", "spec", "selector", "matchLabels", "tier")(o)
			set("x", "spec", "template", "metadata", "labels", "tier")(o)
		}},
		{"StatefulSet serviceName", "StatefulSet", "postgresql", set("postgresql-headless", "spec", "serviceName")},
		{"StatefulSet podManagementPolicy", "StatefulSet", "postgresql", set("Parallel", "spec", "podManagementPolicy")},
		{"StatefulSet claim template storage class", "StatefulSet", "postgresql", inList(0, func(m map[string]any) {
			unstructured.SetNestedField(m, "ssd", "spec", "storageClassName")
		}, "spec", "volumeClaimTemplates")},
		{"StatefulSet claim template grows", "StatefulSet", "postgresql", inList(0, func(m map[string]any) {
			unstructured.SetNestedField(m, "200Gi", "spec", "resources", "requests", "storage")
		}, "spec", "volumeClaimTemplates")},
		{"StatefulSet replicas: accepted", "StatefulSet", "redis", set(int64(0), "spec", "replicas")},
		{"StatefulSet template: accepted", "StatefulSet", "redis", set("v2", "spec", "template", "metadata", "annotations", "e2e")},
		{"Deployment selector", "Deployment", "web-ui", func(o *unstructured.Unstructured) {
			set("x", "spec", "selector", "matchLabels", "tier")(o)
			set("x", "spec", "template", "metadata", "labels", "tier")(o)
		}},
		{"Deployment template label: accepted", "Deployment", "web-ui", set("x", "spec", "template", "metadata", "labels", "tier")},
		{"Deployment replicas: accepted", "Deployment", "worker", set(int64(3), "spec", "replicas")},
		{"Job template (forced by Flux)", "Job", "invenio-setup", inList(0, func(m map[string]any) {
			m["image"] = "ghcr.io/lab/invenio:v12.0.11-lab.1"
		}, "spec", "template", "spec", "containers")},
		{"Job backoffLimit: accepted", "Job", "invenio-setup", set(int64(7), "spec", "backoffLimit")},
		{"Service becomes headless", "Service", "postgresql", set("None", "spec", "clusterIP")},
		{"Service type: accepted", "Service", "web-ui", set("NodePort", "spec", "type")},
		{"claim shrinks", "PersistentVolumeClaim", "invenio-files", set("1Gi", "spec", "resources", "requests", "storage")},
		{"claim storage class", "PersistentVolumeClaim", "backup-target", set("ssd", "spec", "storageClassName")},
		{"claim access modes", "PersistentVolumeClaim", "backup-target", set([]any{"ReadWriteOncePod"}, "spec", "accessModes")},
		{"ConfigMap data: accepted", "ConfigMap", "invenio-config", set("x", "data", "E2E")},
		{"CronJob schedule: accepted", "CronJob", "backup-postgresql", set("0 1 * * *", "spec", "schedule")},
		{"NetworkPolicy podSelector: accepted", "NetworkPolicy", "redis", set("x", "spec", "podSelector", "matchLabels", "tier")},
		{"Ingress host: accepted", "Ingress", "invenio", inList(0, func(m map[string]any) { m["host"] = "other.example.org" }, "spec", "rules")},
		{"SealedSecret data: accepted", "SealedSecret", "invenio-redis", set("AgB", "spec", "encryptedData", "password")},
	}
	refusedBy := map[bool]string{true: "refuses", false: "accepts"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := find(c.kind, c.object)
			new := old.DeepCopy()
			c.edit(new)
			err := cl.Apply(ctx, mapper, new, true)
			apiRefuses := err != nil

			id := review.ID{Group: old.GroupVersionKind().Group, Kind: c.kind, Namespace: string(e.Namespace), Name: c.object}
			r := review.Compare(
				review.Revision{"env": review.Objects{id: {Doc: old.Object}}},
				review.Revision{"env": review.Objects{id: {Doc: new.Object}}})
			var flags []string
			for _, s := range r.Scopes {
				for _, f := range s.Flags {
					flags = append(flags, string(f.Category)+": "+f.Message)
				}
			}
			reviewRefuses := r.Refused() > 0 || strings.Contains(strings.Join(flags, "\n"), "the API server refuses it in place")
			if apiRefuses != reviewRefuses {
				t.Fatalf("the API server %s it (%v), the review says it %s:\n  %s", refusedBy[apiRefuses], err, refusedBy[reviewRefuses], strings.Join(flags, "\n  "))
			}
			if apiRefuses {
				msg := err.Error()
				if len(msg) > 200 {
					msg = msg[:200] + "…"
				}
				t.Logf("refused by both: %s", msg)
			}
		})
	}
}
