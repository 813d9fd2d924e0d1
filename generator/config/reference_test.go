package config

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

const referenceFile = "../../docs/platform-reference.md"

// TestReferenceIsFresh keeps docs/platform-reference.md in step with the
// Go types and defaults it is rendered from.
func TestReferenceIsFresh(t *testing.T) {
	want := Reference()
	if *update {
		if err := os.WriteFile(referenceFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(referenceFile)
	if err != nil {
		t.Fatalf("%v; run `go test ./generator/config -update`", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("docs/platform-reference.md is stale; run `go test ./generator/config -update` (-want +got):\n%s", diff)
	}
}

// walkFields calls f for every YAML field of every struct reachable from
// Platform, with its dotted path.
func walkFields(t reflect.Type, prefix string, f func(path string, sf reflect.StructField)) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := yamlName(sf)
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		f(path, sf)
		ft := sf.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map {
			if ft.Kind() == reflect.Slice {
				path += "[]"
			}
			ft = ft.Elem()
		}
		if isMapping(ft) {
			walkFields(ft, path+".", f)
		}
	}
}

// TestEveryFieldIsDocumented fails for a new field without a doc tag, so
// the reference never has an empty description.
func TestEveryFieldIsDocumented(t *testing.T) {
	n := 0
	walkFields(reflect.TypeOf(Platform{}), "", func(path string, sf reflect.StructField) {
		n++
		if strings.TrimSpace(sf.Tag.Get("doc")) == "" {
			t.Errorf("%s (%s): no doc tag", path, sf.Name)
		}
	})
	if n < 50 {
		t.Errorf("walked only %d fields", n)
	}
}

// TestEveryFieldIsInTheReference: each field shows up as a row (fields of
// defaults are those of environments[]).
func TestEveryFieldIsInTheReference(t *testing.T) {
	ref := Reference()
	walkFields(reflect.TypeOf(Platform{}), "", func(path string, sf reflect.StructField) {
		// Top-level fields are sections, not rows.
		if !strings.Contains(path, ".") || strings.HasPrefix(path, "defaults.") || sf.Type.Kind() == reflect.Pointer {
			return
		}
		if !strings.Contains(ref, "| `"+path+"` |") {
			t.Errorf("%s has no row in the reference", path)
		}
	})
	if !strings.Contains(ref, "| `environments[].workloads.webUI.replicas` | count | `1` |") {
		t.Errorf("reference lacks the webUI replicas row with its default")
	}
	for _, row := range []string{"`environments[].workloads.dashboards.enabled`", "`environments[].workloads.pgadmin.enabled`"} {
		if !strings.Contains(ref, row) {
			t.Errorf("reference lacks %s", row)
		}
	}
	if strings.Contains(ref, "`environments[].workloads.webUI.enabled`") {
		t.Errorf("reference lists enabled for a workload that is not optional")
	}
}

// TestDefaultTagsMatchDefaults keeps the informational default:"…" tags
// true to Defaults and DefaultSite.
func TestDefaultTagsMatchDefaults(t *testing.T) {
	check := func(v reflect.Value, prefix string) {
		var walk func(v reflect.Value, prefix string)
		walk = func(v reflect.Value, prefix string) {
			for i := 0; i < v.NumField(); i++ {
				sf := v.Type().Field(i)
				name := yamlName(sf)
				if name == "" || name == "-" {
					continue
				}
				if isMapping(sf.Type) {
					walk(v.Field(i), prefix+name+".")
					continue
				}
				if tag, ok := sf.Tag.Lookup("default"); ok {
					if got := defaultValue(v.Field(i)); got != tag {
						t.Errorf("%s%s: default tag %q, but the Go default is %q", prefix, name, tag, got)
					}
				}
			}
		}
		walk(v, prefix)
	}
	check(reflect.ValueOf(DefaultSite()), "site.")
	check(reflect.ValueOf(Defaults()), "environments[].")
}
