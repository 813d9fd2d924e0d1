package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Reference renders docs/platform-reference.md: every field of the
// description, read from the Go types (YAML path, kind of value, the doc
// tag) with its default taken from Defaults and DefaultSite, so the
// reference cannot drift from the code.
func Reference() string {
	var b strings.Builder
	b.WriteString(referenceIntro)
	r := refWriter{b: &b}

	b.WriteString("\n## site\n\n")
	r.header()
	r.fields(reflect.ValueOf(DefaultSite()), "site.")

	b.WriteString("\n## defaults\n\n")
	b.WriteString("`defaults` takes every field of an environment (below) except `name`. What it sets is the starting value of every environment, and `base/` is rendered from it. The Go defaults in the tables below apply underneath it.\n")

	b.WriteString("\n## environments\n\n")
	b.WriteString("`environments` is a list; each entry describes one environment and is written `- name: …`. The Default column is the Go default; `defaults:` and then the entry itself override it.\n\n")
	r.header()
	r.fields(reflect.ValueOf(Defaults()), "environments[].")

	b.WriteString("\n## gitops\n\n")
	b.WriteString("Where Flux pulls this repository from; `make generate` writes `clusters/<cluster>/` from it (see docs/flux.md).\n\n")
	r.header()
	r.fields(reflect.ValueOf(DefaultGitOps()), "gitops.")

	b.WriteString("\n## infrastructure\n\n")
	b.WriteString("The controllers Flux installs in every cluster before the platform, as HelmReleases with pinned chart versions (see docs/flux.md).\n\n")
	r.header()
	r.fields(reflect.ValueOf(DefaultInfrastructure()), "infrastructure.")

	b.WriteString("\n## clusters\n\n")
	b.WriteString("`clusters` is an optional list of what is known of a cluster itself, each entry written `- name: …` with the name `environments[].cluster` gives it. A cluster left out is plain Kubernetes. Only an `openshift` cluster can serve `ingress.exposure: route`.\n\n")
	r.header()
	r.fields(reflect.ValueOf(DefaultCluster()), "clusters[].")
	return b.String()
}

const referenceIntro = `<!-- Generated from generator/config/types.go and defaults.go by ` + "`go test ./generator/config -update`" + `. Do not edit. -->

# Platform description reference

` + "`platform.yaml`" + ` describes the whole platform; ` + "`make generate`" + ` turns it into
` + "`base/`" + ` and ` + "`overlays/<env>/`" + `. It has six sections: ` + "`site`" + ` (what every
environment shares), ` + "`defaults`" + `, ` + "`environments`" + `, ` + "`gitops`" + ` (where Flux
pulls from), ` + "`infrastructure`" + ` (the cluster controllers) and the optional
` + "`clusters`" + ` (what is known of each cluster).

**Layering.** Every field of an environment has three layers; a field a layer
leaves out keeps the value of the layer below:

1. the Go default (the Default column below, from ` + "`config.Defaults()`" + `),
2. the top-level ` + "`defaults:`" + ` section,
3. the environment's own entry under ` + "`environments:`" + `.

Layers merge mapping by mapping, so an environment that sets only
` + "`workloads.webUI.replicas`" + ` keeps the resources of the layers below. A field
whose value is a list or a set of labels is replaced as a whole.

Every switch works both ways: an environment may switch off what ` + "`defaults:`" + `
switch on (monitoring, an autoscaler, the largest-files report, Dashboards,
pgAdmin, SAML, the backups or any part of them) and switch on what they leave
off. Its overlay then deletes from ` + "`base/`" + ` what the environment does not run
(a ` + "`$patch: delete`" + ` patch per object) or adds what it does. The one exception
is the kind of ` + "`backup.target`" + `: a target inherited from ` + "`defaults:`" + ` cannot be
unset, so an environment cannot trade an inherited ` + "`volume`" + ` for ` + "`s3`" + ` or back
(an error says so): set targets in the environments.

**Strictness.** The file must be a single YAML document. An unknown or misspelt
field is an error (with the nearest valid name), and so is every value of the
wrong kind: names must be DNS labels, sizes Kubernetes quantities greater than
zero, counts whole numbers from 0 to 100, image tags pinned (never ` + "`latest`" + `).
Checks across fields follow: required fields, unique environment names,
namespaces and hosts, requests not above limits, single-instance workloads at
one replica, SAML settings when ` + "`auth.mode`" + ` is ` + "`saml`" + `, and the OpenSearch
heap at most half its memory limit. Every problem is reported at once as
` + "`platform.yaml:LINE: path: message`" + `, and nothing is written unless the whole
description is valid.

**Kinds of value.** *name*: a DNS label (at most 63 lower-case letters, digits
and ` + "`-`" + `). *DNS name*: lower-case letters, digits, ` + "`-`" + ` and ` + "`.`" + `.
*quantity*: a Kubernetes quantity such as ` + "`500m`" + `, ` + "`2`" + `, ` + "`512Mi`" + ` or ` + "`100Gi`" + `.
*count*: a whole number from 0 to 100. *network*: an IPv4 or IPv6 network in
CIDR notation without host bits.
`

type refWriter struct{ b *strings.Builder }

func (r refWriter) header() {
	r.b.WriteString("| Field | Kind | Default | Description |\n|---|---|---|---|\n")
}

// fields writes a row for every field of the struct v (holding the
// defaults), recursing into nested mappings.
func (r refWriter) fields(v reflect.Value, prefix string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" || name == "-" {
			continue
		}
		fv := v.Field(i)
		// A pointer the Go defaults leave nil is a switch only some
		// mappings have (workloads.*.enabled): list it where it is set.
		if fv.Kind() == reflect.Pointer && fv.IsNil() {
			continue
		}
		path := prefix + name
		desc := escapeText(f.Tag.Get("doc"))
		// An example only where there is no default to show instead.
		if ex := f.Tag.Get("example"); ex != "" && defaultValue(fv) == "" {
			desc += " Example: `" + escapeCell(ex) + "`."
		}
		if isMapping(f.Type) {
			fmt.Fprintf(r.b, "| `%s` | mapping | | %s |\n", path, desc)
			r.fields(fv, path+".")
			continue
		}
		fmt.Fprintf(r.b, "| `%s` | %s | %s | %s |\n", path, kindOf(f.Type), defaultCell(fv), desc)
	}
}

// isMapping reports a struct written as a YAML mapping of fields (not a
// scalar with its own UnmarshalYAML, such as Quantity).
func isMapping(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	_, custom := reflect.PointerTo(t).MethodByName("UnmarshalYAML")
	return !custom
}

// kindNames are the words the reference uses for each type of value.
var kindNames = map[reflect.Type]string{
	reflect.TypeOf(DNSLabel("")):        "name",
	reflect.TypeOf(DNSName("")):         "DNS name",
	reflect.TypeOf(ImageRepository("")): "image repository",
	reflect.TypeOf(ImageTag("")):        "image tag",
	reflect.TypeOf(Quantity{}):          "quantity",
	reflect.TypeOf(Replicas(0)):         "count",
	reflect.TypeOf(CIDR("")):            "network",
	reflect.TypeOf(LogLevel("")):        "log level",
	reflect.TypeOf(AuthMode("")):        "`password` or `saml`",
	reflect.TypeOf(Exposure("")):        "`gateway`, `ingress`, `both` or `route`",
	reflect.TypeOf(Distribution("")):    "`kubernetes` or `openshift`",
	reflect.TypeOf(SealingScope("")):    "`strict`, `namespace-wide` or `cluster-wide`",
	reflect.TypeOf(GitURL("")):          "repository URL",
	reflect.TypeOf(GitRef("")):          "branch",
	reflect.TypeOf(Duration("")):        "duration",
	reflect.TypeOf(Timeout("")):         "duration (whole seconds, 1s to 1h)",
	reflect.TypeOf(Email("")):           "e-mail address",
	reflect.TypeOf(HTTPSURL("")):        "https URL",
	reflect.TypeOf(ChartVersion("")):    "chart version",
	reflect.TypeOf(Percent(0)):          "percentage (1 to 100)",
	reflect.TypeOf(Cron("")):            "cron schedule",
	reflect.TypeOf(Count(0)):            "count (1 to 3650)",
	reflect.TypeOf(BucketName("")):      "bucket name",
	reflect.TypeOf(S3Prefix("")):        "path",
	reflect.TypeOf(""):                  "text",
	reflect.TypeOf(false):               "`true` or `false`",
}

func kindOf(t reflect.Type) string {
	if k, ok := kindNames[t]; ok {
		return k
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindOf(t.Elem())
	case reflect.Slice:
		return "list of " + plural(kindOf(t.Elem()))
	case reflect.Map:
		return "mapping of " + kindOf(t.Key()) + " to " + kindOf(t.Elem())
	}
	panic(fmt.Sprintf("config.Reference: no kind name for %s", t))
}

func plural(s string) string {
	if strings.HasSuffix(s, "s") || strings.HasPrefix(s, "`") {
		return s
	}
	return s + "s"
}

// defaultCell renders a default value as YAML would be written in the file.
func defaultCell(v reflect.Value) string {
	s := defaultValue(v)
	if s == "" {
		return "—"
	}
	return "`" + escapeCell(s) + "`"
}

func defaultValue(v reflect.Value) string {
	if q, ok := v.Interface().(Quantity); ok {
		if q.IsZero() {
			return ""
		}
		return q.String()
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return ""
		}
		return defaultValue(v.Elem())
	case reflect.Slice:
		if v.Len() == 0 {
			return ""
		}
		var items []string
		for i := 0; i < v.Len(); i++ {
			items = append(items, defaultValue(v.Index(i)))
		}
		return "[" + strings.Join(items, ", ") + "]"
	case reflect.Map:
		if v.Len() == 0 {
			return ""
		}
		var items []string
		for _, k := range v.MapKeys() {
			val := fmt.Sprint(v.MapIndex(k).Interface())
			if val == "" {
				val = `""` // YAML's empty string, as an operator writes it
			}
			items = append(items, fmt.Sprintf("%v: %v", k.Interface(), val))
		}
		sort.Strings(items)
		return "{" + strings.Join(items, ", ") + "}"
	}
	return fmt.Sprint(v.Interface())
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// escapeText escapes prose for a table cell (not for a code span).
func escapeText(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}
