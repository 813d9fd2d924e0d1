package generator

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	"lbl.gov/invenio-gitops/generator/config"
)

// Limits the API server, and the controllers that copy names into labels,
// enforce on every object; sources are named where each is checked.
const (
	// maxObjectBytes: ConfigMap and Secret data may hold at most 1 MiB
	// (k8s.io/kubernetes pkg/apis/core/validation, MaxSecretSize and the
	// ConfigMap check), and etcd refuses requests over 1.5 MiB by default;
	// no object of ours has a reason to be near either.
	maxObjectBytes = 1 << 20
	// maxGeneratedNameLength: a CronJob's Jobs are named <name>-<minutes
	// since the epoch, 11 characters> and must stay a label value (the
	// API server refuses a longer CronJob: "must be no more than 52
	// characters"); a StatefulSet's pods carry controller-revision-hash
	// <name>-<hash of up to 10 characters>, a label value.
	maxGeneratedNameLength = 52
)

// admissionProblem is one limit an object of the output breaks. value is
// the string that breaks it (a name, a label value) when there is one, so
// that the description value it came from can be named.
type admissionProblem struct {
	value  string
	what   string // "name", or what the value is, e.g. `(metadata.labels) the label app.kubernetes.io/instance:`
	reason string // why the cluster refuses it
	over   int    // characters too many, when the problem is the length
}

// admissionProblems checks obj (an object as the cluster receives it)
// against the limits of its kind.
func admissionProblems(obj map[string]any) []admissionProblem {
	var out []admissionProblem
	u := unstructured.Unstructured{Object: obj}
	kind, name := u.GetKind(), u.GetName()
	group := u.GroupVersionKind().Group
	label := func(what, v string, errs []string) {
		if len(errs) > 0 {
			p := admissionProblem{value: v, what: what, reason: strings.Join(errs, "; ")}
			if len(v) > utilvalidation.LabelValueMaxLength {
				p.over = len(v) - utilvalidation.LabelValueMaxLength
			}
			out = append(out, p)
		}
	}
	switch {
	case kind == "Service" && group == "":
		label("name", name, utilvalidation.IsDNS1035Label(name))
	case kind == "Namespace" && group == "":
		label("name", name, utilvalidation.IsDNS1123Label(name))
	case kind == "Kustomization" && group == "kustomize.toolkit.fluxcd.io":
		// kustomize-controller labels everything it applies with
		// kustomize.toolkit.fluxcd.io/name: <name> (fluxcd/flux2#2004).
		label("name", name, append(utilvalidation.IsDNS1123Subdomain(name), labelValueErrs("kustomize-controller copies it into the label kustomize.toolkit.fluxcd.io/name", name)...))
	case kind == "Job" && group == "batch":
		// The Job controller labels its pods job-name: <name>.
		label("name", name, append(utilvalidation.IsDNS1123Subdomain(name), labelValueErrs("the Job controller copies it into the pods' label job-name", name)...))
	case (kind == "CronJob" && group == "batch") || (kind == "StatefulSet" && group == "apps"):
		errs := utilvalidation.IsDNS1123Subdomain(name)
		if len(name) > maxGeneratedNameLength {
			errs = append(errs, fmt.Sprintf("must be no more than %d characters (the controller appends a suffix and uses the result as a label value)", maxGeneratedNameLength))
		}
		if len(errs) > 0 {
			p := admissionProblem{value: name, what: "name", reason: strings.Join(errs, "; ")}
			if len(name) > maxGeneratedNameLength {
				p.over = len(name) - maxGeneratedNameLength
			}
			out = append(out, p)
		}
	default:
		label("name", name, utilvalidation.IsDNS1123Subdomain(name))
	}
	if ns := u.GetNamespace(); ns != "" {
		label("the namespace", ns, utilvalidation.IsDNS1123Label(ns))
	}
	walkMaps(obj, nil, isLabels(kind), func(where string, labels map[string]any) {
		for _, k := range sortedKeys(labels) {
			v, _ := labels[k].(string)
			if errs := utilvalidation.IsQualifiedName(k); len(errs) > 0 {
				out = append(out, admissionProblem{value: k, what: "(" + where + ") the label key", reason: strings.Join(errs, "; ")})
			}
			label("("+where+") the label "+k+":", v, utilvalidation.IsValidLabelValue(v))
		}
	})
	walkMaps(obj, nil, func(p []string) bool { return underMetadata(p, "annotations") }, func(where string, annotations map[string]any) {
		size := 0
		for k, v := range annotations {
			s, _ := v.(string)
			size += len(k) + len(s)
		}
		if size > validation.TotalAnnotationSizeLimitB {
			out = append(out, admissionProblem{what: "the annotations in " + where, reason: fmt.Sprintf("hold %d bytes, more than the API server's %d (TotalAnnotationSizeLimitB)", size, validation.TotalAnnotationSizeLimitB)})
		}
	})
	if b, err := json.Marshal(obj); err == nil && len(b) > maxObjectBytes {
		out = append(out, admissionProblem{what: "the object", reason: fmt.Sprintf("is %d bytes, more than the 1 MiB the API server stores for a ConfigMap or Secret (etcd refuses 1.5 MiB)", len(b))})
	}
	return out
}

// joinPath prints a field path the way kubectl explain does: spec.ingress[0].from.
func joinPath(p []string) string {
	return strings.ReplaceAll(strings.Join(p, "."), ".[", "[")
}

func labelValueErrs(why, v string) []string {
	errs := utilvalidation.IsValidLabelValue(v)
	for i := range errs {
		errs[i] = why + ": " + errs[i]
	}
	return errs
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// walkMaps calls f with every map of obj whose path (keys, and "[i]" for
// list elements) selects, and does not look inside it.
func walkMaps(v any, path []string, selects func(path []string) bool, f func(where string, m map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			p := append(append([]string{}, path...), k)
			if m, ok := x[k].(map[string]any); ok && selects(p) {
				f(joinPath(p), m)
				continue
			}
			walkMaps(x[k], p, selects, f)
		}
	case []any:
		for i, e := range x {
			walkMaps(e, append(append([]string{}, path...), fmt.Sprintf("[%d]", i)), selects, f)
		}
	}
}

// isLabels selects the maps the API server validates as labels:
// metadata.labels at any depth (the object's, pod templates', job
// templates'), every matchLabels, and a Service's spec.selector.
// Prometheus rules' "labels" are not Kubernetes labels and are left out.
func isLabels(kind string) func(p []string) bool {
	return func(p []string) bool {
		k := p[len(p)-1]
		return k == "matchLabels" || underMetadata(p, "labels") || kind == "Service" && strings.Join(p, ".") == "spec.selector"
	}
}

// underMetadata reports whether p ends in metadata.<key>.
func underMetadata(p []string, key string) bool {
	return len(p) >= 2 && p[len(p)-1] == key && p[len(p)-2] == "metadata"
}

// checkAdmission checks every object of objs and explains each problem by
// the description value it derives from (the longest string of the
// description the offending value contains), at that value's line.
//
// origins names the description field of values whose derivation is
// known (a Flux Kustomization name → environments[i].name); they are
// tried before the longest-contained guess, which could otherwise blame a
// longer value that happens to contain the same text.
func checkAdmission(p *config.Platform, objs []checkedObject, origins map[string]string) error {
	// The description's values, longest first, are needed only to explain
	// a problem: read them then.
	var fields []config.Field
	fieldsOnce := func() []config.Field {
		if fields == nil {
			fields = p.Fields()
			sort.SliceStable(fields, func(i, j int) bool { return len(fields[i].Value) > len(fields[j].Value) })
		}
		return fields
	}
	// One description value usually gives many objects the same bad value:
	// it is reported once, with the first object and how many more.
	type report struct {
		err  error
		more int
	}
	var order []string
	reports := map[string]*report{}
	for _, o := range objs {
		for _, pr := range o.problems {
			key, err := explain(p, fieldsOnce(), origins, o.doc, pr)
			if r, ok := reports[key]; ok {
				r.more++
				continue
			}
			order = append(order, key)
			reports[key] = &report{err: err}
		}
	}
	var errs []error
	for _, key := range order {
		r := reports[key]
		switch {
		case r.more == 1:
			errs = append(errs, fmt.Errorf("%w (and 1 more object)", r.err))
		case r.more > 1:
			errs = append(errs, fmt.Errorf("%w (and %d more objects)", r.err, r.more))
		default:
			errs = append(errs, r.err)
		}
	}
	return errors.Join(errs...)
}

// checkedObject is an object with its admission problems.
type checkedObject struct {
	doc      map[string]any
	problems []admissionProblem
}

func checked(doc map[string]any) checkedObject {
	return checkedObject{doc: doc, problems: admissionProblems(doc)}
}

func objectName(obj map[string]any) string {
	u := unstructured.Unstructured{Object: obj}
	kind, name := u.GetKind(), u.GetName()
	if ns := u.GetNamespace(); ns != "" {
		return kind + " " + ns + "/" + abbrev(name)
	}
	return kind + " " + abbrev(name)
}

// abbrev shortens s for a message: long values are the problem, not what
// a reader needs to see whole.
func abbrev(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func explain(p *config.Platform, fields []config.Field, origins map[string]string, obj map[string]any, pr admissionProblem) (string, error) {
	u := unstructured.Unstructured{Object: obj}
	kind, ns := u.GetKind(), u.GetNamespace()
	// What the derived value does to the object, e.g. `gives a
	// Kustomization in flux-system the name "…"`.
	var gives string
	switch {
	case pr.what == "name" && ns != "":
		gives = fmt.Sprintf("gives a %s in %s the name %q (%d characters)", kind, ns, abbrev(pr.value), len(pr.value))
	case pr.what == "name":
		gives = fmt.Sprintf("gives a %s the name %q (%d characters)", kind, abbrev(pr.value), len(pr.value))
	default:
		gives = fmt.Sprintf("gives %s %s %q (%d characters)", objectName(obj), pr.what, abbrev(pr.value), len(pr.value))
	}
	if pr.value != "" {
		candidates := fields
		if path, ok := origins[pr.value]; ok {
			for _, f := range fields {
				if f.Path == path {
					candidates = []config.Field{f}
				}
			}
		}
		for _, f := range candidates {
			// A one-character value is blamed only when it is the whole
			// bad value: "-" is in too many names to mean anything.
			if !strings.Contains(pr.value, f.Value) || len(f.Value) < 2 && f.Value != pr.value {
				continue
			}
			fix := "change it so that the value it gives is valid"
			if pr.over > 0 {
				if keep := len(f.Value) - pr.over; keep > 0 {
					fix = fmt.Sprintf("shorten it to at most %d characters", keep)
				}
			}
			// The key leaves out where in the object: one value, one report.
			_, what, _ := strings.Cut(pr.what, ") ")
			return f.Path + "\x00" + what + "\x00" + pr.reason, p.Problem(f.Path, fmt.Sprintf("%q (%d characters) %s, which the cluster refuses: %s; %s", abbrev(f.Value), len(f.Value), gives, pr.reason, fix))
		}
		err := fmt.Errorf("%s: %s, which the cluster refuses: %s", objectName(obj), strings.TrimPrefix(gives, "gives "), pr.reason)
		return err.Error(), err
	}
	err := fmt.Errorf("%s: %s %s", objectName(obj), pr.what, pr.reason)
	return err.Error(), err
}
