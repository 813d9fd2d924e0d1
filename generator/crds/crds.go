// Package crds owns the CustomResourceDefinitions of the controllers the
// generated GitOps tree is applied to — Flux (kustomize-, source- and
// helm-controller), sealed-secrets, cert-manager, the Prometheus Operator
// (ServiceMonitor, PodMonitor, PrometheusRule) and Envoy Gateway (the
// standard-channel Gateway API CRDs its chart installs, and its
// ClientTrafficPolicy) and OpenShift's Route, at the versions pinned
// in go.mod and scripts/crds.sh — and validates objects against them the way
// the Kubernetes API server does when the object is created with
// fieldValidation=Strict.
//
// The CRDs are committed YAML files under flux/, sealed-secrets/,
// cert-manager/, prometheus-operator/, gateway-api/ and openshift/, embedded
// into the package so that tests need no network.
// `bash scripts/crds.sh` regenerates them; the first line of each file names
// its source module@version.
//
// Validate runs the API server's own code, from k8s.io/apiextensions-apiserver,
// in the order the server runs it on create:
//
//  1. decoding: unknown fields in metadata and everywhere the structural
//     schema does not preserve unknown fields are reported (the server
//     rejects them with fieldValidation=Strict, kubectl's default, and
//     otherwise prunes them silently, which is what happens when Flux applies
//     them: either way they are a bug); embedded ObjectMeta is coerced;
//  2. defaulting from the schema's `default`s;
//  3. dropping status when the status subresource is enabled (a create
//     cannot set it);
//  4. validation: ObjectMeta, the OpenAPI v3 schema (types, required,
//     enum, pattern, format, bounds...), embedded resources,
//     x-kubernetes-list-type invariants and the CEL rules of
//     x-kubernetes-validations.
//
// What it cannot see: admission webhooks (cert-manager's webhook has checks
// of its own beyond the schema), conversion between versions, and anything
// that depends on other objects in the cluster.
package crds

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// files holds the CRDs written by scripts/crds.sh.
//
//go:embed flux/*.yaml sealed-secrets/*.yaml cert-manager/*.yaml prometheus-operator/*.yaml gateway-api/*.yaml openshift/*.yaml
var files embed.FS

// Set is the parsed CRDs, ready to validate objects. It is immutable and
// safe for concurrent use.
type Set struct {
	crds  map[schema.GroupKind]*crd
	kinds []schema.GroupVersionKind // every served version, sorted
}

type crd struct {
	file       string // embedded path, for messages
	name       string // metadata.name
	namespaced bool
	versions   map[string]*version // every version the CRD lists
	served     []string            // names of the served ones, in CRD order
}

type version struct {
	served     bool
	hasStatus  bool // status subresource enabled
	validator  apiservervalidation.SchemaValidator
	structural *structuralschema.Structural // defaults pruned, as the server uses it
	cel        *cel.Validator               // nil without x-kubernetes-validations
}

var loadOnce = sync.OnceValues(func() (*Set, error) { return load(files) })

// Load parses every embedded CRD and compiles the validators of every
// version (OpenAPI schema, structural schema, CEL rules). The work is done
// once per process; later calls return the same Set.
func Load() (*Set, error) { return loadOnce() }

func load(fsys fs.FS) (*Set, error) {
	s := &Set{crds: map[schema.GroupKind]*crd{}}
	paths, err := fs.Glob(fsys, "*/*.yaml")
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("crds: no CRD files embedded")
	}
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		docs, err := splitYAML(data)
		if err != nil {
			return nil, fmt.Errorf("crds: %s: %w", p, err)
		}
		for i, doc := range docs {
			def := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(doc, def); err != nil {
				return nil, fmt.Errorf("crds: %s document %d: %w", p, i+1, err)
			}
			if def.APIVersion != "apiextensions.k8s.io/v1" || def.Kind != "CustomResourceDefinition" {
				return nil, fmt.Errorf("crds: %s document %d: %s %s is not an apiextensions.k8s.io/v1 CustomResourceDefinition", p, i+1, def.APIVersion, def.Kind)
			}
			c, err := compile(p, def)
			if err != nil {
				return nil, err
			}
			gk := schema.GroupKind{Group: def.Spec.Group, Kind: def.Spec.Names.Kind}
			if prev, dup := s.crds[gk]; dup {
				return nil, fmt.Errorf("crds: %s and %s both define %s", prev.file, p, gk)
			}
			s.crds[gk] = c
			for _, v := range c.served {
				s.kinds = append(s.kinds, gk.WithVersion(v))
			}
		}
	}
	sort.Slice(s.kinds, func(i, j int) bool { return s.kinds[i].String() < s.kinds[j].String() })
	return s, nil
}

// splitYAML returns the non-empty documents of a YAML stream.
func splitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var probe any
		if err := yaml.Unmarshal(doc, &probe); err != nil {
			return nil, err
		}
		if probe != nil {
			docs = append(docs, doc)
		}
	}
}

// compile builds, per version, what the API server builds in
// crdHandler.getOrCreateServingInfoFor and customresource.NewStrategy.
func compile(file string, def *apiextensionsv1.CustomResourceDefinition) (*crd, error) {
	if def.Spec.PreserveUnknownFields {
		return nil, fmt.Errorf("crds: %s: %s sets spec.preserveUnknownFields, which apiextensions.k8s.io/v1 forbids", file, def.Name)
	}
	// A few of the checks the API server makes before it accepts a CRD
	// (apiextensions/validation.ValidateCustomResourceDefinition, which
	// would drag grpc and OpenTelemetry into the build).
	if want := def.Spec.Names.Plural + "." + def.Spec.Group; def.Name != want {
		return nil, fmt.Errorf("crds: %s: metadata.name %q must be %q", file, def.Name, want)
	}
	storage := 0
	for _, v := range def.Spec.Versions {
		if v.Storage {
			storage++
		}
	}
	if storage != 1 {
		return nil, fmt.Errorf("crds: %s: %s has %d storage versions, want 1", file, def.Name, storage)
	}
	c := &crd{
		file:       file,
		name:       def.Name,
		namespaced: def.Spec.Scope == apiextensionsv1.NamespaceScoped,
		versions:   map[string]*version{},
	}
	for _, v := range def.Spec.Versions {
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("crds: %s: %s version %s has no schema", file, def.Name, v.Name)
		}
		internal := &apiextensionsinternal.CustomResourceValidation{}
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, internal, nil); err != nil {
			return nil, fmt.Errorf("crds: %s: %s version %s: converting the schema: %w", file, def.Name, v.Name, err)
		}
		validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("crds: %s: %s version %s: %w", file, def.Name, v.Name, err)
		}
		structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("crds: %s: %s version %s: schema is not structural: %w", file, def.Name, v.Name, err)
		}
		if errs := structuralschema.ValidateStructural(nil, structural); len(errs) > 0 {
			return nil, fmt.Errorf("crds: %s: %s version %s: schema is not structural: %w", file, def.Name, v.Name, errs.ToAggregate())
		}
		if errs, err := structuraldefaulting.ValidateDefaults(context.Background(), nil, structural, true, true); err != nil || len(errs) > 0 {
			return nil, fmt.Errorf("crds: %s: %s version %s: invalid defaults: %w", file, def.Name, v.Name, errors.Join(err, errs.ToAggregate()))
		}
		structural = structural.DeepCopy()
		if err := structuraldefaulting.PruneDefaults(structural); err != nil {
			return nil, fmt.Errorf("crds: %s: %s version %s: pruning defaults: %w", file, def.Name, v.Name, err)
		}
		c.versions[v.Name] = &version{
			served:     v.Served,
			hasStatus:  v.Subresources != nil && v.Subresources.Status != nil,
			validator:  validator,
			structural: structural,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		}
		if v.Served {
			c.served = append(c.served, v.Name)
		}
	}
	return c, nil
}

// Kinds returns every group/version/kind the Set serves, sorted.
func (s *Set) Kinds() []schema.GroupVersionKind { return slices.Clone(s.kinds) }

// HasGroup reports whether some CRD of the Set belongs to the API group: an
// object of that group that Validate rejects as unknown is a typo, not an
// object out of scope.
func (s *Set) HasGroup(group string) bool {
	for gk := range s.crds {
		if gk.Group == group {
			return true
		}
	}
	return false
}

// Validate checks obj — a custom resource as it would be sent to the API
// server, e.g. a YAML document unmarshalled into map[string]any — against the
// CRD of its apiVersion and kind, and returns every problem the API server
// would report on create with fieldValidation=Strict, sorted. It is an
// error if no CRD of the Set defines the kind, or if the CRD does not serve
// the version. obj is not modified.
//
// A namespaced object without metadata.namespace is validated as if it were
// created in "default", and metadata.namespace of a cluster-scoped object is
// ignored, as the API server does.
func (s *Set) Validate(obj map[string]any) []error {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if apiVersion == "" || kind == "" {
		return []error{fmt.Errorf("object has no apiVersion or kind (apiVersion: %v, kind: %v)", obj["apiVersion"], obj["kind"])}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return []error{fmt.Errorf("%s %s: %w", apiVersion, kind, err)}
	}
	gvk := gv.WithKind(kind)
	c, ok := s.crds[gvk.GroupKind()]
	if !ok {
		return []error{fmt.Errorf("%s: no CRD defines kind %q in group %q", describe(gvk, obj), kind, gv.Group)}
	}
	v, ok := c.versions[gv.Version]
	if !ok || !v.served {
		return []error{fmt.Errorf("%s: version %q is not served by CRD %s (served: %s)", describe(gvk, obj), gv.Version, c.name, strings.Join(c.served, ", "))}
	}

	// The server decodes JSON: numbers become int64 or float64, and obj is
	// left alone.
	u, err := roundTrip(obj)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", describe(gvk, obj), err)}
	}

	var errs []error
	fail := func(e error) { errs = append(errs, fmt.Errorf("%s: %w", describe(gvk, obj), e)) }
	failAll := func(list field.ErrorList) {
		for _, e := range list {
			fail(e)
		}
	}

	// 1. Decoding (unstructuredSchemaCoercer.apply with strict field
	// validation).
	meta, foundMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		fail(fmt.Errorf("metadata: %w", err))
		return errs
	}
	unknown = append(unknown, structuralpruning.PruneWithOptions(u, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u, v.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u, v.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		fail(ferr)
		return errs
	}
	unknown = append(unknown, paths...)
	sort.Strings(unknown)
	for _, p := range slices.Compact(unknown) {
		fail(fmt.Errorf("unknown field %q", p))
	}
	if !foundMeta {
		meta = &metav1.ObjectMeta{}
	}

	// 2. Defaulting.
	structuraldefaulting.Default(u, v.structural)

	// 3. customResourceStrategy.PrepareForCreate and the namespace the
	// request would carry.
	if v.hasStatus {
		delete(u, "status")
	}
	switch {
	case !c.namespaced:
		meta.Namespace = ""
	case meta.Namespace == "":
		meta.Namespace = metav1.NamespaceDefault
	}
	if err := schemaobjectmeta.SetObjectMeta(u, meta); err != nil {
		fail(err)
		return errs
	}

	// 4. customResourceStrategy.Validate.
	var verrs field.ErrorList
	verrs = append(verrs, metavalidation.ValidateObjectMeta(meta, c.namespaced, metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	verrs = append(verrs, apiservervalidation.ValidateCustomResource(nil, u, v.validator)...)
	verrs = append(verrs, schemaobjectmeta.Validate(context.Background(), nil, u, v.structural, false)...)
	verrs = append(verrs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, u)...)
	failAll(verrs)
	if v.cel != nil {
		if hasBlockingErr(verrs) {
			// The server appends field.Invalid(nil, nil, msg), which prints
			// as "<nil>: Invalid value: null: msg".
			fail(errors.New("some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
		} else {
			celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, u, nil, celconfig.RuntimeCELCostBudget)
			failAll(celErrs)
		}
	}

	slices.SortStableFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errs
}

// hasBlockingErr is customresource.hasBlockingErr: the server skips the CEL
// rules when the schema errors mean their input may be ill-typed.
func hasBlockingErr(errs field.ErrorList) bool {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// roundTrip returns a deep copy of obj as the API server's JSON decoder
// would produce it.
func roundTrip(obj map[string]any) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("not representable as JSON: %w", err)
	}
	var u map[string]any
	if err := utiljson.Unmarshal(data, &u); err != nil {
		return nil, err
	}
	return u, nil
}

// describe names an object in messages: "Kustomization flux-system/apps
// (kustomize.toolkit.fluxcd.io/v1)".
func describe(gvk schema.GroupVersionKind, obj map[string]any) string {
	u := unstructured.Unstructured{Object: obj}
	name, ns := u.GetName(), u.GetNamespace()
	if ns != "" {
		name = ns + "/" + name
	}
	if name == "" {
		name = "<unnamed>"
	}
	return fmt.Sprintf("%s %s (%s)", gvk.Kind, name, gvk.GroupVersion())
}

// Manifests returns every embedded CRD file by its path (flux/…,
// cert-manager/…), for installing them into a test cluster.
func Manifests() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := files.ReadFile(p)
		out[p] = b
		return err
	})
	return out, err
}
