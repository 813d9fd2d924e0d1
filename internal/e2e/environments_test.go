//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
)

// TestEnvironments runs, for each cluster of platform.yaml, the admission
// and secrets proof of each of its environments on one control plane, and
// the GitOps proof (layers, rotation, prune, drift) on a fresh one.
func TestEnvironments(t *testing.T) {
	p, err := config.Load(filepath.Join(root, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := cluster.NewSealingKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range flux.Clusters(p) {
		t.Run(c.Name, func(t *testing.T) {
			var envs []string
			for _, e := range c.Envs {
				envs = append(envs, string(e.Name))
			}
			var r *repo
			phase(t, "working copy, secrets sealed for the test key by platformctl", func() { r = newRepo(t, key, envs...) })
			for _, e := range c.Envs {
				t.Run("admission-and-secrets/"+string(e.Name), func(t *testing.T) { admissionAndSecrets(t, r, c.Name, string(e.Name), key) })
			}
			t.Run("gitops", func(t *testing.T) { gitops(t, r, c, key) })
		})
	}
}

// admissionAndSecrets: every object of the built overlay passes server-side
// apply, dry-run then for real, with no error and no warning, in a
// namespace that enforces Pod Security "restricted"; then the real
// sealed-secrets controller unseals secrets/<env>/ into Secrets whose keys
// are exactly the inventory's.
func admissionAndSecrets(t *testing.T, r *repo, clusterName, env string, key cluster.SealingKeyPair) {
	cl, ctx := startCluster(t, clusterName)
	p := r.Platform(t)
	e, err := generator.Environment(p, env)
	if err != nil {
		t.Fatal(err)
	}
	phase(t, "sealed-secrets controller", func() {
		if _, err := cl.StartSealedSecrets(ctx, string(e.Sealing.ControllerNamespace), string(e.Sealing.ControllerName), key); err != nil {
			t.Fatal(err)
		}
	})
	var objs []*unstructured.Unstructured
	phase(t, "platformctl build", func() {
		var err error
		if objs, err = cluster.Decode([]byte(r.CLI(t, "build", env))); err != nil {
			t.Fatal(err)
		}
	})
	ns, rest := splitNamespace(objs)
	if ns == nil || ns.GetName() != string(e.Namespace) {
		t.Fatalf("the build of %s has no Namespace %s", env, e.Namespace)
	}
	if got := ns.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Fatalf("Namespace %s enforces Pod Security %q, want restricted", ns.GetName(), got)
	}
	phase(t, fmt.Sprintf("server-side apply of %d objects (dry-run, then for real)", len(objs)), func() {
		mapper := cl.Mapper()
		cl.Warnings.Take()
		var problems []string
		for _, dryRun := range []bool{true, false} {
			mode := map[bool]string{true: "dry-run", false: "apply"}[dryRun]
			// The namespace exists for real before anything is dry-run in it.
			batch := append([]*unstructured.Unstructured{ns}, rest...)
			if dryRun {
				if err := cl.Apply(ctx, mapper, ns, true); err != nil {
					problems = append(problems, fmt.Sprintf("%s Namespace/%s: %v", mode, ns.GetName(), err))
				}
				if err := cl.Apply(ctx, mapper, ns, false); err != nil {
					t.Fatalf("Namespace/%s: %v", ns.GetName(), err)
				}
				batch = rest
			}
			for _, o := range batch {
				err := cl.Apply(ctx, mapper, o, dryRun)
				id := fmt.Sprintf("%s %s/%s", mode, o.GetKind(), o.GetName())
				if err != nil {
					problems = append(problems, id+": "+err.Error())
				}
				for _, w := range cl.Warnings.Take() {
					problems = append(problems, id+": warning: "+w)
				}
			}
		}
		if len(problems) > 0 {
			t.Fatalf("%d admission problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
		}
		t.Logf("%d objects admitted with no error and no warning (dry-run and apply)", len(objs))
		// The same check sees a violation: a privileged copy of a Deployment
		// must draw Pod Security's warning.
		if !violationIsSeen(ctx, cl, mapper, rest) {
			t.Fatal("a privileged Deployment was admitted without a warning: the check above cannot fail")
		}
	})
	phase(t, "SealedSecrets unsealed by the controller", func() {
		want := inventory(t, p, env)
		got := map[string][]string{}
		err := cluster.WaitFor(ctx, 90*time.Second, "every Secret unsealed", func(ctx context.Context) error {
			for name := range want {
				s, err := cl.Client.CoreV1().Secrets(string(e.Namespace)).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return fmt.Errorf("Secret %s: %w", name, err)
				}
				got[name] = slices.Sorted(maps.Keys(s.Data))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("unsealed Secret keys differ from the inventory (-inventory +cluster):\n%s", d)
		}
		t.Logf("%d Secrets unsealed, keys equal to the inventory", len(got))
	})
}

// violationIsSeen dry-runs a privileged copy of the first Deployment and
// reports whether the API server warned or refused.
func violationIsSeen(ctx context.Context, cl *cluster.Cluster, mapper meta.RESTMapper, objs []*unstructured.Unstructured) bool {
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		bad := o.DeepCopy()
		bad.SetName(o.GetName() + "-privileged")
		containers, _, _ := unstructured.NestedSlice(bad.Object, "spec", "template", "spec", "containers")
		c0 := containers[0].(map[string]any)
		c0["securityContext"] = map[string]any{"privileged": true}
		unstructured.SetNestedSlice(bad.Object, containers, "spec", "template", "spec", "containers")
		cl.Warnings.Take()
		err := cl.Apply(ctx, mapper, bad, true)
		return err != nil || len(cl.Warnings.Take()) > 0
	}
	return false
}

// inventory is Secret name → keys the environment's manifests read.
func inventory(t *testing.T, p *config.Platform, env string) map[string][]string {
	t.Helper()
	keys, err := generator.SecretKeys(p, env)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, k := range keys {
		want[k.Target.Name] = append(want[k.Target.Name], k.Key)
	}
	for n := range want {
		sort.Strings(want[n])
	}
	return want
}

var kustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}

// fluxRun is one cluster reconciled by the real kustomize-controller.
type fluxRun struct {
	cl       *cluster.Cluster
	ctx      context.Context
	repo     *repo
	art      *cluster.ArtifactServer
	source   *unstructured.Unstructured   // the GitRepository
	layers   []*unstructured.Unstructured // the Kustomizations, as generated
	revision string
}

// gitops: the cluster's Kustomizations become Ready in dependency order from
// a served revision; then a rotation, a removed component and hand-made
// drift are each reconciled.
func gitops(t *testing.T, r *repo, c flux.Cluster, key cluster.SealingKeyPair) {
	cl, ctx := startCluster(t, c.Name)
	p := r.Platform(t)
	f := &fluxRun{cl: cl, ctx: ctx, repo: r}
	phase(t, "controllers: sealed-secrets, kustomize-controller, stand-ins, artifact server", func() {
		sealing := c.Envs[0].Sealing
		if _, err := cl.StartSealedSecrets(ctx, string(sealing.ControllerNamespace), string(sealing.ControllerName), key); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: string(p.GitOps.Namespace)}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cl.StartStandIns(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EnsureStorageClasses(ctx, storageClasses(t, r, c)); err != nil {
			t.Fatal(err)
		}
		if err := cl.StartKustomizeController(ctx, string(p.GitOps.Namespace)); err != nil {
			t.Fatal(err)
		}
		var err error
		if f.art, err = cl.StartArtifactServer(); err != nil {
			t.Fatal(err)
		}
	})
	phase(t, "apply clusters/"+c.Name+"/ (what flux bootstrap's flux-system Kustomization applies)", func() {
		files, _ := filepath.Glob(filepath.Join(r.Dir, "clusters", c.Name, "*.yaml"))
		var objs []*unstructured.Unstructured
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			o, err := cluster.Decode(b)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			objs = append(objs, o...)
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "GitRepository":
				f.source = o
			case "Kustomization":
				f.layers = append(f.layers, o)
			}
		}
		if f.source == nil || len(f.layers) == 0 {
			t.Fatalf("clusters/%s has no GitRepository or no Kustomization", c.Name)
		}
		if err := cl.ApplyAll(ctx, objs); err != nil {
			t.Fatal(err)
		}
	})
	var readyAt map[string]time.Time
	phase(t, fmt.Sprintf("%d Kustomizations Ready in dependency order", len(f.layers)), func() {
		start := time.Now()
		readyAt = f.publishAndWait(t)
		f.checkOrder(t, readyAt)
		names := slices.Sorted(maps.Keys(readyAt))
		sort.SliceStable(names, func(i, j int) bool { return readyAt[names[i]].Before(readyAt[names[j]]) })
		var lines []string
		for _, n := range names {
			lines = append(lines, fmt.Sprintf("%-28s Ready after %5.1fs", n, readyAt[n].Sub(start).Seconds()))
		}
		t.Logf("layers:\n  %s", strings.Join(lines, "\n  "))
	})
	for _, e := range c.Envs {
		env, ns := string(e.Name), string(e.Namespace)
		phase(t, env+": workloads Available, setup Job Complete", func() { checkWorkloads(t, ctx, cl, ns) })
		t.Run("cronjobs/"+env, func(t *testing.T) { f.triggerCronJobs(t, ns) })
		t.Run("rotation/"+env, func(t *testing.T) { f.rotation(t, p, env, ns) })
		t.Run("prune/"+env, func(t *testing.T) { f.prune(t, e) })
		t.Run("drift/"+env, func(t *testing.T) { f.drift(t, env, ns) })
	}
}

// storageClasses are the classes the cluster's environments claim storage
// from (PersistentVolumeClaims and StatefulSet claim templates).
func storageClasses(t *testing.T, r *repo, c flux.Cluster) []string {
	t.Helper()
	set := map[string]bool{}
	for _, e := range c.Envs {
		objs, err := cluster.Decode([]byte(r.CLI(t, "build", string(e.Name))))
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			var claims []any
			switch o.GetKind() {
			case "PersistentVolumeClaim":
				claims = []any{o.Object}
			case "StatefulSet":
				claims, _, _ = unstructured.NestedSlice(o.Object, "spec", "volumeClaimTemplates")
			}
			for _, cl := range claims {
				if name, _, _ := unstructured.NestedString(cl.(map[string]any), "spec", "storageClassName"); name != "" {
					set[name] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// publishAndWait serves the working copy as a new revision and waits until
// every Kustomization has applied it and is Ready; it returns when each
// became Ready.
func (f *fluxRun) publishAndWait(t *testing.T) map[string]time.Time {
	t.Helper()
	a, err := f.art.Serve(f.repo.Dir, string(f.repo.Platform(t).GitOps.Branch))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cl.PublishArtifact(f.ctx, f.source.GetNamespace(), f.source.GetName(), a); err != nil {
		t.Fatal(err)
	}
	f.revision = a.Revision
	readyAt := map[string]time.Time{}
	status := map[string]string{}
	err = cluster.WaitFor(f.ctx, 8*time.Minute, "every Kustomization Ready at "+a.Revision, func(ctx context.Context) error {
		if err := f.cl.Alive(); err != nil {
			return err
		}
		pending := 0
		for _, l := range f.layers {
			if _, ok := readyAt[l.GetName()]; ok {
				continue
			}
			k, err := f.cl.Dynamic.Resource(kustomizationGVR).Namespace(l.GetNamespace()).Get(ctx, l.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
			cond, _ := cluster.ConditionOf(k, "Ready")
			status[l.GetName()] = fmt.Sprintf("Ready=%s %s: %s (applied %s)", cond["status"], cond["reason"], cond["message"], applied)
			if cond["status"] == "True" && applied == a.Revision {
				readyAt[l.GetName()] = time.Now()
				continue
			}
			pending++
		}
		if pending > 0 {
			return fmt.Errorf("%d not Ready", pending)
		}
		return nil
	})
	if err != nil {
		var lines []string
		for _, n := range slices.Sorted(maps.Keys(status)) {
			lines = append(lines, n+": "+status[n])
		}
		t.Fatalf("%v\n  %s", err, strings.Join(lines, "\n  "))
	}
	return readyAt
}

// checkOrder: no Kustomization became Ready before one it depends on.
func (f *fluxRun) checkOrder(t *testing.T, readyAt map[string]time.Time) {
	t.Helper()
	for _, l := range f.layers {
		deps, _, _ := unstructured.NestedSlice(l.Object, "spec", "dependsOn")
		for _, d := range deps {
			dep, _ := d.(map[string]any)["name"].(string)
			if readyAt[l.GetName()].Before(readyAt[dep]) {
				t.Errorf("%s became Ready before %s, which it depends on", l.GetName(), dep)
			}
		}
	}
}

// checkWorkloads: every Deployment Available and rolled out, every
// StatefulSet's replicas ready, every Job Complete.
func checkWorkloads(t *testing.T, ctx context.Context, cl *cluster.Cluster, ns string) {
	t.Helper()
	var summary []string
	err := cluster.WaitFor(ctx, 2*time.Minute, "workloads of "+ns, func(ctx context.Context) error {
		summary = nil
		deps, err := cl.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, d := range deps.Items {
			if !deploymentRolledOut(&d) {
				return fmt.Errorf("Deployment %s not rolled out and Available", d.Name)
			}
			summary = append(summary, fmt.Sprintf("Deployment/%s %d/%d", d.Name, d.Status.AvailableReplicas, *d.Spec.Replicas))
		}
		sts, err := cl.Client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, s := range sts.Items {
			if s.Status.ReadyReplicas != *s.Spec.Replicas {
				return fmt.Errorf("StatefulSet %s %d/%d ready", s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas)
			}
			summary = append(summary, fmt.Sprintf("StatefulSet/%s %d/%d", s.Name, s.Status.ReadyReplicas, *s.Spec.Replicas))
		}
		jobs, err := cl.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(jobs.Items) == 0 {
			return fmt.Errorf("no Job in %s (the setup Job is missing)", ns)
		}
		for _, j := range jobs.Items {
			if !jobComplete(&j) {
				return fmt.Errorf("Job %s not Complete", j.Name)
			}
			summary = append(summary, "Job/"+j.Name+" Complete")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", ns, strings.Join(summary, ", "))
}

func deploymentRolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	available := false
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			available = true
		}
	}
	return available && d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.AvailableReplicas == want && d.Status.Replicas == want
}

func jobComplete(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// triggerCronJobs: every CronJob (backups, restore check, report) was
// admitted with the layer; a Job made from each, as `kubectl create job
// --from=cronjob/<name>` makes it, is scheduled onto a node and completes
// on the simulated nodes.
func (f *fluxRun) triggerCronJobs(t *testing.T, ns string) {
	cs := f.cl.Client
	cjs, err := cs.BatchV1().CronJobs(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cjs.Items) == 0 {
		t.Fatalf("no CronJob in %s", ns)
	}
	var names []string
	phase(t, fmt.Sprintf("trigger %d CronJobs by hand", len(cjs.Items)), func() {
		for _, cj := range cjs.Items {
			job := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{
					Name:        cj.Name + "-manual",
					Namespace:   ns,
					Labels:      cj.Spec.JobTemplate.Labels,
					Annotations: map[string]string{"cronjob.kubernetes.io/instantiate": "manual"},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID,
						Controller: ptr(true), BlockOwnerDeletion: ptr(true)}},
				},
				Spec: cj.Spec.JobTemplate.Spec,
			}
			if _, err := cs.BatchV1().Jobs(ns).Create(f.ctx, job, metav1.CreateOptions{}); err != nil {
				t.Fatalf("Job from CronJob %s: %v", cj.Name, err)
			}
			names = append(names, job.Name)
		}
		err := cluster.WaitFor(f.ctx, 3*time.Minute, "the triggered Jobs", func(ctx context.Context) error {
			for _, n := range names {
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + n})
				if err != nil {
					return err
				}
				if len(pods.Items) == 0 || pods.Items[0].Spec.NodeName == "" {
					return fmt.Errorf("Job %s: no pod scheduled yet", n)
				}
				j, err := cs.BatchV1().Jobs(ns).Get(ctx, n, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if !jobComplete(j) {
					return fmt.Errorf("Job %s not Complete", n)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("scheduled and completed: %s", strings.Join(names, ", "))
}

func ptr[T any](v T) *T { return &v }

// rotation: `platformctl secrets rotate` + `generate`, served as a new
// revision, changes the Secret in the cluster and restarts every Deployment
// that reads it; the Secret's other keys keep their values.
func (f *fluxRun) rotation(t *testing.T, p *config.Platform, env, ns string) {
	keys, err := generator.SecretKeys(p, env)
	if err != nil {
		t.Fatal(err)
	}
	// The generated key read by the most Deployments.
	var secret, key string
	var readers []string
	for _, k := range keys {
		var deps []string
		for _, by := range k.ReadBy {
			if name, ok := strings.CutPrefix(by, "Deployment/"); ok {
				deps = append(deps, name)
			}
		}
		if k.Generated() && len(deps) > len(readers) {
			secret, key, readers = k.Target.Name, k.Key, deps
		}
	}
	if secret == "" {
		t.Fatal("no generated key read by a Deployment")
	}
	cs := f.cl.Client
	before, err := cs.CoreV1().Secrets(ns).Get(f.ctx, secret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldPods := map[string][]string{}
	oldChecksum := map[string]string{}
	for _, name := range readers {
		dep, err := cs.AppsV1().Deployments(ns).Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		oldPods[name] = podNames(t, f.ctx, f.cl, ns, dep)
		oldChecksum[name] = dep.Spec.Template.Annotations["checksum/secrets"]
	}
	phase(t, fmt.Sprintf("rotate %s/%s, regenerate, reconcile", secret, key), func() {
		f.repo.CLI(t, "secrets", "rotate", env, secret+"/"+key)
		f.repo.CLI(t, "generate", "-q")
		f.publishAndWait(t)
	})
	phase(t, fmt.Sprintf("Secret %s changed, %d Deployments restarted (%s)", secret, len(readers), strings.Join(readers, ", ")), func() {
		err := cluster.WaitFor(f.ctx, 2*time.Minute, "the rotated value and finished rollouts", func(ctx context.Context) error {
			s, err := cs.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if string(s.Data[key]) == string(before.Data[key]) {
				return fmt.Errorf("Secret %s key %s still has the old value", secret, key)
			}
			for _, name := range readers {
				d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if d.Spec.Template.Annotations["checksum/secrets"] == oldChecksum[name] {
					return fmt.Errorf("Deployment %s pod template still has checksum/secrets %s", name, oldChecksum[name])
				}
				if !deploymentRolledOut(d) {
					return fmt.Errorf("Deployment %s rollout not finished", name)
				}
				for _, p := range podNames(t, ctx, f.cl, ns, d) {
					if slices.Contains(oldPods[name], p) {
						return fmt.Errorf("pod %s from before the rotation still runs", p)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		after, err := cs.CoreV1().Secrets(ns).Get(f.ctx, secret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k := range before.Data {
			if k != key && string(after.Data[k]) != string(before.Data[k]) {
				t.Errorf("Secret %s key %s changed, but only %s was rotated", secret, k, key)
			}
		}
	})
}

func podNames(t *testing.T, ctx context.Context, cl *cluster.Cluster, ns string, d *appsv1.Deployment) []string {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	pods, err := cl.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Name)
		}
	}
	return names
}

// optionalWorkload is the component the prune proof switches off: OpenSearch
// Dashboards is optional in every environment.
const optionalWorkload = "dashboards"

// prune: turning an optional component off in the description deletes its
// objects from the cluster (switching it on first where it is off).
func (f *fluxRun) prune(t *testing.T, e config.Environment) {
	env, ns := string(e.Name), string(e.Namespace)
	sel := labels.Set{"app.kubernetes.io/name": optionalWorkload}.String()
	if !e.Workloads.Dashboards.On() {
		phase(t, optionalWorkload+" on, regenerate, reconcile", func() {
			f.repo.SetWorkloadEnabled(t, env, optionalWorkload, true)
			f.repo.CLI(t, "generate", "-q")
			f.publishAndWait(t)
		})
	}
	present := f.objectsLabelled(t, ns, sel)
	if len(present) == 0 {
		t.Fatalf("no object labelled %s in %s before the prune", sel, ns)
	}
	phase(t, optionalWorkload+" off, regenerate, reconcile", func() {
		f.repo.SetWorkloadEnabled(t, env, optionalWorkload, false)
		f.repo.CLI(t, "generate", "-q")
		f.publishAndWait(t)
	})
	if left := f.objectsLabelled(t, ns, sel); len(left) > 0 {
		t.Fatalf("after the prune these objects remain: %v", left)
	}
	t.Logf("pruned: %v", present)
}

var prunableKinds = []schema.GroupVersionResource{
	{Version: "v1", Resource: "configmaps"}, {Version: "v1", Resource: "services"}, {Version: "v1", Resource: "serviceaccounts"},
	{Group: "apps", Version: "v1", Resource: "deployments"}, {Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
}

func (f *fluxRun) objectsLabelled(t *testing.T, ns, sel string) []string {
	t.Helper()
	var out []string
	for _, gvr := range prunableKinds {
		list, err := f.cl.Dynamic.Resource(gvr).Namespace(ns).List(f.ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range list.Items {
			if o.GetDeletionTimestamp() == nil {
				out = append(out, o.GetKind()+"/"+o.GetName())
			}
		}
	}
	sort.Strings(out)
	return out
}

// drift: a value changed by hand (as `kubectl edit` would) and a
// NetworkPolicy deleted by hand are put back by the next reconciliation.
func (f *fluxRun) drift(t *testing.T, env, ns string) {
	cs := f.cl.Client
	app := env + "-app"
	cms, err := cs.CoreV1().ConfigMaps(ns).List(f.ctx, metav1.ListOptions{LabelSelector: "kustomize.toolkit.fluxcd.io/name=" + app})
	if err != nil || len(cms.Items) == 0 {
		t.Fatalf("no ConfigMap applied by %s: %v", app, err)
	}
	cm := cms.Items[0]
	var dataKey string
	for k := range cm.Data {
		dataKey = k
		break
	}
	original := cm.Data[dataKey]
	nps, err := cs.NetworkingV1().NetworkPolicies(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil || len(nps.Items) == 0 {
		t.Fatalf("no NetworkPolicy in %s: %v", ns, err)
	}
	np := nps.Items[len(nps.Items)-1]
	owner := np.Labels["kustomize.toolkit.fluxcd.io/name"]
	phase(t, fmt.Sprintf("edit ConfigMap %s, delete NetworkPolicy %s, reconcile", cm.Name, np.Name), func() {
		cm.Data[dataKey] = "changed by hand"
		if _, err := cs.CoreV1().ConfigMaps(ns).Update(f.ctx, &cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
		if err := cs.NetworkingV1().NetworkPolicies(ns).Delete(f.ctx, np.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// What `flux reconcile kustomization` does.
		now := time.Now().Format(time.RFC3339Nano)
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{"reconcile.fluxcd.io/requestedAt": now}}})
		for _, k := range []string{app, owner} {
			if _, err := f.cl.Dynamic.Resource(kustomizationGVR).Namespace(f.source.GetNamespace()).Patch(f.ctx, k, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		err := cluster.WaitFor(f.ctx, 2*time.Minute, "Flux to undo the drift", func(ctx context.Context) error {
			got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if got.Data[dataKey] != original {
				return fmt.Errorf("ConfigMap %s key %s still changed", cm.Name, dataKey)
			}
			_, err = cs.NetworkingV1().NetworkPolicies(ns).Get(ctx, np.Name, metav1.GetOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// splitNamespace returns the Namespace of a build (nil when there is none)
// and the other objects, in order: the Namespace is applied first.
func splitNamespace(objs []*unstructured.Unstructured) (*unstructured.Unstructured, []*unstructured.Unstructured) {
	var ns *unstructured.Unstructured
	var rest []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			ns = o
		} else {
			rest = append(rest, o)
		}
	}
	return ns, rest
}
