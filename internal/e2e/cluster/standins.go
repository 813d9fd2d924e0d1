package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// StandInResources are the kinds whose controllers cannot run here
// (helm-controller and source-controller need chart downloads). The
// stand-in marks each object Ready for its current generation — what the
// controllers would report after a successful install — and logs it.
var StandInResources = []schema.GroupVersionResource{
	{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"},
	{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmrepositories"},
}

// StartStandIns runs, until the cluster stops, the two stand-ins of this
// harness: HelmReleases/HelmRepositories are marked Ready, and every
// PersistentVolumeClaim gets a matching PersistentVolume as a static
// provisioner would make (same size, access modes and class). Their actions
// go to stand-ins.log.
func (c *Cluster) StartStandIns() error {
	logf, err := os.Create(filepath.Join(c.LogDir, "stand-ins.log"))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	logLine := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(logf, time.Now().UTC().Format("15:04:05.000 ")+format+"\n", args...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, gvr := range StandInResources {
				if err := c.markReady(ctx, gvr, logLine); err != nil && ctx.Err() == nil {
					logLine("%s: %v", gvr.Resource, err)
				}
			}
			if err := c.provisionVolumes(ctx, logLine); err != nil && ctx.Err() == nil {
				logLine("volumes: %v", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	c.OnStop(func() { cancel(); <-done; logf.Close() })
	return nil
}

func (c *Cluster) markReady(ctx context.Context, gvr schema.GroupVersionResource, logLine func(string, ...any)) error {
	list, err := c.Dynamic.Resource(gvr).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil // CRD not installed (yet)
		}
		return err
	}
	for i := range list.Items {
		o := &list.Items[i]
		gen := o.GetGeneration()
		observed, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
		if Condition(o, "Ready") == "True" && observed == gen {
			continue
		}
		now := time.Now().UTC().Format(time.RFC3339)
		msg := "marked Ready by the e2e harness: " + gvr.Resource + " cannot be reconciled offline"
		patch := map[string]any{"status": map[string]any{
			"observedGeneration": gen,
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Succeeded",
				"message": msg, "observedGeneration": gen, "lastTransitionTime": now}},
		}}
		b, _ := json.Marshal(patch)
		if _, err := c.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.MergePatchType, b, metav1.PatchOptions{}, "status"); err != nil {
			return err
		}
		logLine("%s %s/%s generation %d: marked Ready", gvr.Resource, o.GetNamespace(), o.GetName(), gen)
	}
	return nil
}

// VolumeFor is the PersistentVolume a static provisioner would create for
// the claim: pre-bound to it, same class, access modes and requested size.
func VolumeFor(pvc *corev1.PersistentVolumeClaim) *corev1.PersistentVolume {
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	return &corev1.PersistentVolume{
		// An annotation, not a label: <namespace>.<claim> may exceed 63.
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-" + string(pvc.UID), Annotations: map[string]string{"e2e.invenio-gitops/claim": pvc.Namespace + "." + pvc.Name}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			StorageClassName:              class,
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			// Never mounted: kwok runs no containers.
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/nonexistent/e2e/" + string(pvc.UID)}},
		},
	}
}

// StaticProvisioner is the provisioner name of the storage classes the
// stand-in creates: an external provisioner as far as the PV controller
// knows, so it waits for the stand-in's volume instead of failing to find an
// in-tree plugin (and retrying only every 15 s).
const StaticProvisioner = "e2e.invenio-gitops/static"

// ensureStorageClass creates the claim's storage class if the cluster has
// none of that name.
func (c *Cluster) ensureStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim, logLine func(string, ...any)) error {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return nil
	}
	created, err := c.createStorageClass(ctx, *pvc.Spec.StorageClassName)
	if created {
		logLine("StorageClass %s (provisioner %s)", *pvc.Spec.StorageClassName, StaticProvisioner)
	}
	return err
}

// EnsureStorageClasses creates the named storage classes (provisioner
// StaticProvisioner, immediate binding) that do not exist yet, as the lab's
// cluster has its Ceph classes before anything is deployed.
func (c *Cluster) EnsureStorageClasses(ctx context.Context, names []string) error {
	for _, n := range names {
		if _, err := c.createStorageClass(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) createStorageClass(ctx context.Context, name string) (bool, error) {
	_, err := c.Client.StorageV1().StorageClasses().Get(ctx, name, metav1.GetOptions{})
	if err == nil || !apierrors.IsNotFound(err) {
		return false, err
	}
	immediate := storagev1.VolumeBindingImmediate
	_, err = c.Client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: name},
		Provisioner:       StaticProvisioner,
		VolumeBindingMode: &immediate,
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	return err == nil, err
}

func (c *Cluster) provisionVolumes(ctx context.Context, logLine func(string, ...any)) error {
	pvcs, err := c.Client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range pvcs.Items {
		pvc := &pvcs.Items[i]
		if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
			continue
		}
		if err := c.ensureStorageClass(ctx, pvc, logLine); err != nil {
			return err
		}
		pv := VolumeFor(pvc)
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return err
		}
		q := pv.Spec.Capacity[corev1.ResourceStorage]
		logLine("PersistentVolume %s for claim %s/%s (%s, %v, class %q)", pv.Name, pvc.Namespace, pvc.Name, q.String(), pv.Spec.AccessModes, pv.Spec.StorageClassName)
	}
	return nil
}
