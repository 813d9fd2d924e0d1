package invenio

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
)

// testEnv is a small valid environment on the Go defaults, changed by edit.
func testEnv(edit func(*config.Environment)) config.Environment {
	e := config.Defaults()
	e.Name, e.Namespace, e.Host, e.Cluster = "dev", "invenio-dev", "invenio.example.org", "dev"
	e.Image = config.Image{Repository: "ghcr.io/lbnl/invenio", Tag: "v12.0.10"}
	e.Search.IndexPrefix = "dev"
	if edit != nil {
		edit(&e)
	}
	return e
}

// objects renders e and indexes every object by Kind/name.
func objects(t *testing.T, e config.Environment) map[string]component.Object {
	t.Helper()
	out := map[string]component.Object{}
	for _, c := range Components(config.DefaultSite(), e) {
		for _, o := range c.Objects {
			key := o.GetObjectKind().GroupVersionKind().Kind + "/" + o.GetName()
			if _, dup := out[key]; dup {
				t.Fatalf("%s rendered twice", key)
			}
			out[key] = o
		}
	}
	return out
}

func configMapData(t *testing.T, objs map[string]component.Object, name, key string) string {
	t.Helper()
	cm, ok := objs["ConfigMap/"+name].(*corev1.ConfigMap)
	if !ok {
		t.Fatalf("no ConfigMap %s", name)
	}
	v, ok := cm.Data[key]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", name, key)
	}
	return v
}

func container(t *testing.T, objs map[string]component.Object, workload, name string) corev1.Container {
	t.Helper()
	var spec corev1.PodSpec
	switch o := objs[workload].(type) {
	case *appsv1.Deployment:
		spec = o.Spec.Template.Spec
	case *appsv1.StatefulSet:
		spec = o.Spec.Template.Spec
	default:
		t.Fatalf("no workload %s", workload)
	}
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s has no container %s", workload, name)
	return corev1.Container{}
}

// iniSettings reads a uWSGI ini file as key → values (a key may repeat).
func iniSettings(ini string) map[string][]string {
	out := map[string][]string{}
	for _, line := range strings.Split(ini, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		out[k] = append(out[k], strings.TrimSpace(v))
	}
	return out
}

// TestUWSGIIni: both applications hand the request body to the
// application as it arrives (no post-buffering: it would spool every
// upload whole into /tmp first).
func TestUWSGIIni(t *testing.T) {
	objs := objects(t, testEnv(nil))
	for _, ini := range []string{"ui.ini", "api.ini"} {
		t.Run(ini, func(t *testing.T) {
			s := iniSettings(configMapData(t, objs, "uwsgi-config", ini))
			for _, absent := range []string{"post-buffering", "post-buffering-bufsize"} {
				if v, ok := s[absent]; ok {
					t.Errorf("%s = %v: must not be set", absent, v)
				}
			}
			for _, want := range []string{"socket", "master", "processes", "threads", "buffer-size", "wsgi-disable-file-wrapper"} {
				if len(s[want]) != 1 {
					t.Errorf("%s = %v, want one value", want, s[want])
				}
			}
		})
	}
}
