//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"lbl.gov/invenio-gitops/internal/e2e/cluster"
)

// TestSelectorMigrationRunbook follows docs/immutable-fields.md
// ("Selectors by component name") on a real control plane: an environment
// running the old selectors (app.kubernetes.io/instance beside the name)
// gets the new objects; the API server refuses each Deployment and
// StatefulSet; the runbook deletes them with --cascade=orphan and applies
// again; then every StatefulSet pod is the same pod (same UID, adopted by
// the new StatefulSet), and every Deployment is rolled out.
func TestSelectorMigrationRunbook(t *testing.T) {
	p, objs, _ := edgeBuild(t)
	ns := string(p.Environments[0].Namespace)
	site := string(p.Site.Name)
	cl, ctx := startCluster(t, "migration")
	if err := cl.StartStandIns(); err != nil { // volumes for the claims
		t.Fatal(err)
	}
	// The old objects: the instance label in every workload selector and
	// in the StatefulSets' claim templates, as the generator wrote them
	// before.
	var old, workloads []*unstructured.Unstructured
	for _, o := range objs {
		c := o.DeepCopy()
		switch o.GetKind() {
		case "Deployment", "StatefulSet":
			workloads = append(workloads, o)
			unstructured.SetNestedField(c.Object, site, "spec", "selector", "matchLabels", "app.kubernetes.io/instance")
			if o.GetKind() == "StatefulSet" {
				l, _, _ := unstructured.NestedSlice(c.Object, "spec", "volumeClaimTemplates")
				for _, e := range l {
					unstructured.SetNestedField(e.(map[string]any), site, "metadata", "labels", "app.kubernetes.io/instance")
				}
				unstructured.SetNestedSlice(c.Object, l, "spec", "volumeClaimTemplates")
			}
		}
		old = append(old, c)
	}
	phase(t, "apply the old selectors, wait for every workload's pods", func() {
		if err := cl.ApplyAll(ctx, old); err != nil {
			t.Fatal(err)
		}
		waitRolledOut(t, ctx, cl, ns)
	})
	before := podUIDs(t, ctx, cl, ns, "StatefulSet")
	beforeRS := podUIDs(t, ctx, cl, ns, "ReplicaSet")

	mapper := cl.Mapper()
	phase(t, "the new objects: each Deployment and StatefulSet refused", func() {
		for _, o := range workloads {
			if err := cl.Apply(ctx, mapper, o, false); err == nil || !strings.Contains(err.Error(), "immutable") && !strings.Contains(err.Error(), "Forbidden") {
				t.Errorf("%s %s: want refused, got %v", o.GetKind(), o.GetName(), err)
			}
		}
	})
	phase(t, "runbook: delete with --cascade=orphan, apply again", func() {
		orphan := metav1.DeletePropagationOrphan
		for _, o := range workloads {
			var err error
			if o.GetKind() == "Deployment" {
				err = cl.Client.AppsV1().Deployments(ns).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &orphan})
			} else {
				err = cl.Client.AppsV1().StatefulSets(ns).Delete(ctx, o.GetName(), metav1.DeleteOptions{PropagationPolicy: &orphan})
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		err := cluster.WaitFor(ctx, time.Minute, "workloads deleted", func(ctx context.Context) error {
			d, err := cl.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			s, err := cl.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if n := len(d.Items) + len(s.Items); n > 0 {
				return fmt.Errorf("%d left", n)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ApplyAll(ctx, objs); err != nil {
			t.Fatalf("after the runbook: %v", err)
		}
		waitRolledOut(t, ctx, cl, ns)
	})
	after := podUIDs(t, ctx, cl, ns, "StatefulSet")
	for pod, uid := range before {
		if after[pod] != uid {
			t.Errorf("StatefulSet pod %s: %s before, %q after: it was replaced, the runbook says it stays", pod, uid, after[pod])
		}
	}
	// The old objects here differ from the new only in their selectors, so
	// a Deployment's pods stay too (its ReplicaSet is adopted); on a real
	// cluster the Deployments whose spread terms changed roll once.
	afterRS := podUIDs(t, ctx, cl, ns, "ReplicaSet")
	for pod, uid := range beforeRS {
		if afterRS[pod] != uid {
			t.Errorf("Deployment pod %s: %s before, %q after: replaced although its template did not change", pod, uid, afterRS[pod])
		}
	}
	t.Logf("%d StatefulSet pods and %d Deployment pods kept, adopted by the new objects", len(before), len(beforeRS))
}

// waitRolledOut waits until every Deployment is rolled out and every
// StatefulSet has all its pods ready, under its current spec.
func waitRolledOut(t *testing.T, ctx context.Context, cl *cluster.Cluster, ns string) {
	t.Helper()
	err := cluster.WaitFor(ctx, 3*time.Minute, "workloads of "+ns, func(ctx context.Context) error {
		deps, err := cl.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, d := range deps.Items {
			if !deploymentRolledOut(&d) {
				return fmt.Errorf("Deployment %s not rolled out", d.Name)
			}
		}
		sts, err := cl.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range sts.Items {
			if s.Status.ObservedGeneration < s.Generation || s.Status.ReadyReplicas != *s.Spec.Replicas {
				return fmt.Errorf("StatefulSet %s %d/%d ready", s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas)
			}
		}
		return nil
	})
	if err != nil {
		pods, _ := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		var states []string
		for _, p := range pods.Items {
			st := p.Name + " " + string(p.Status.Phase)
			for _, c := range p.Status.Conditions {
				if c.Status != "True" && c.Message != "" {
					st += " (" + c.Message + ")"
				}
			}
			states = append(states, st)
		}
		t.Fatalf("%v\npods:\n  %s", err, strings.Join(states, "\n  "))
	}
}

// podUIDs maps each pod owned by a controller of kind to its UID; a
// StatefulSet's pod must be owned by the StatefulSet that exists now.
func podUIDs(t *testing.T, ctx context.Context, cl *cluster.Cluster, ns, kind string) map[string]string {
	t.Helper()
	pods, err := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		for _, ref := range p.OwnerReferences {
			if ref.Kind != kind || ref.Controller == nil || !*ref.Controller {
				continue
			}
			if kind == "StatefulSet" {
				s, err := cl.Client.AppsV1().StatefulSets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
				if err != nil || s.UID != ref.UID {
					t.Errorf("pod %s is owned by a StatefulSet %s that is not the current one", p.Name, ref.Name)
				}
			}
			out[p.Name] = string(p.UID)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no pod owned by a %s in %s", kind, ns)
	}
	return out
}
