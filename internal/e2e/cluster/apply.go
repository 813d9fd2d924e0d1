package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the field manager of objects the harness applies itself.
const FieldManager = "e2e-harness"

// Decode splits a multi-document YAML stream into objects, skipping empty
// documents.
func Decode(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// Mapper maps kinds to resources through discovery; Reset after installing CRDs.
func (c *Cluster) Mapper() meta.ResettableRESTMapper {
	return restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
}

// Resource is the dynamic client of one object's resource.
func (c *Cluster) Resource(mapper meta.RESTMapper, obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Apply server-side applies obj with strict field validation; dryRun asks
// the server to run admission without persisting.
func (c *Cluster) Apply(ctx context.Context, mapper meta.RESTMapper, obj *unstructured.Unstructured, dryRun bool) error {
	ri, err := c.Resource(mapper, obj)
	if err != nil {
		return err
	}
	b, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: ptr(true), FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, b, opts)
	return err
}

// ApplyAll applies objects in order, stopping at the first error; kinds are
// mapped once, so CRDs must be installed first (InstallCRDs).
func (c *Cluster) ApplyAll(ctx context.Context, objs []*unstructured.Unstructured) error {
	mapper := c.Mapper()
	for _, o := range objs {
		if err := c.Apply(ctx, mapper, o, false); err != nil {
			return fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	return nil
}

// InstallCRDs applies CRD manifests and waits until each is Established.
func (c *Cluster) InstallCRDs(ctx context.Context, manifests [][]byte) error {
	var crds []*unstructured.Unstructured
	for _, m := range manifests {
		objs, err := Decode(m)
		if err != nil {
			return err
		}
		crds = append(crds, objs...)
	}
	if err := c.ApplyAll(ctx, crds); err != nil {
		return err
	}
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	return poll(ctx, "CRDs Established", 200*time.Millisecond, nil, func(ctx context.Context) error {
		for _, o := range crds {
			got, err := c.Dynamic.Resource(crdGVR).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if Condition(got, "Established") != "True" {
				return fmt.Errorf("CRD %s not Established", o.GetName())
			}
		}
		return nil
	})
}

// Condition returns the status of the condition type in status.conditions.
func Condition(obj *unstructured.Unstructured, typ string) string {
	c, _ := ConditionOf(obj, typ)
	return c["status"]
}

// ConditionOf returns a condition's fields as strings.
func ConditionOf(obj *unstructured.Unstructured, typ string) (map[string]string, bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			out := map[string]string{}
			for k, v := range m {
				out[k] = fmt.Sprint(v)
			}
			return out, true
		}
	}
	return nil, false
}

func httpOK(url string, insecure bool) func(context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

func ptr[T any](v T) *T { return &v }
