//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
)

// edgeBuild generates testdata/edges.yaml with the CLI, as an operator
// would (secrets init, generate, build), and returns its description and
// what its cluster applies: the environment's objects and the cluster's
// own Flux Kustomizations of it.
func edgeBuild(t *testing.T) (*config.Platform, []*unstructured.Unstructured, []*unstructured.Unstructured) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/edges.yaml")
	if err != nil {
		t.Fatal(err)
	}
	desc := filepath.Join(dir, "platform.yaml")
	if err := os.WriteFile(desc, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := config.Load(desc)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Environments[0]
	env := string(e.Name)
	key, err := cluster.NewSealingKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets", env), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", env, "sealing-cert.pem"), key.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(platformctl, append(args, "-C", dir, "-f", desc)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("platformctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("secrets", "init", env)
	cli("generate", "-q")
	objs, err := cluster.Decode([]byte(cli("build", env)))
	if err != nil {
		t.Fatal(err)
	}
	own, err := os.ReadFile(filepath.Join(dir, flux.ClustersDir, string(e.Cluster), env+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kustomizations, err := cluster.Decode(own)
	if err != nil {
		t.Fatal(err)
	}
	return p, objs, kustomizations
}

// TestValidationAgreesWithTheAPIServer shows both sides of each edge
// validation draws (cmd/platformctl's TestBadDescriptionsAreRefused shows
// the refusals): what the description at the edge builds
// (testdata/edges.yaml: a 53-character environment, 63-character
// namespace, site name and label value, a 1024-byte siteName, 8Pi of
// storage, schedules with day-of-week 0-6 and 29 February) is accepted by
// the API server with strict field validation, dry-run; and the same
// objects one step over each edge are refused by it.
func TestValidationAgreesWithTheAPIServer(t *testing.T) {
	p, objs, kustomizations := edgeBuild(t)
	e := p.Environments[0]
	env := string(e.Name)
	cl, ctx := startCluster(t, "edges")
	mapper := cl.Mapper()
	for _, ns := range []string{string(e.Namespace), string(p.GitOps.Namespace)} {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if err := cl.Apply(ctx, mapper, o, false); err != nil {
			t.Fatalf("Namespace %s: %v", ns, err)
		}
	}
	all := append(objs, kustomizations...)
	t.Run("accepted", func(t *testing.T) {
		var problems []string
		cl.Warnings.Take()
		for _, o := range all {
			if err := cl.Apply(ctx, mapper, o, true); err != nil {
				problems = append(problems, fmt.Sprintf("%s %s: %v", o.GetKind(), o.GetName(), err))
			}
			for _, w := range cl.Warnings.Take() {
				problems = append(problems, fmt.Sprintf("%s %s: warning: %s", o.GetKind(), o.GetName(), w))
			}
		}
		if len(problems) > 0 {
			t.Fatalf("the API server refused what validation accepted:\n  %s", strings.Join(problems, "\n  "))
		}
		t.Logf("%d objects of the edge description admitted (dry-run, strict)", len(all))
	})

	find := func(kind, name string) *unstructured.Unstructured {
		for _, o := range all {
			if o.GetKind() == kind && (name == "" || o.GetName() == name) {
				return o.DeepCopy()
			}
		}
		t.Fatalf("the edge build has no %s %s", kind, name)
		return nil
	}
	// One step over each edge, on a copy of an object the edge built.
	over := []struct {
		name, want string
		obj        func() *unstructured.Unstructured
	}{
		{"schedule day-of-week 7", "end of range (7) above maximum (6)", func() *unstructured.Unstructured {
			o := find("CronJob", "backup-postgresql")
			unstructured.SetNestedField(o.Object, "59 23 * * 7", "spec", "schedule")
			return o
		}},
		{"schedule with CRON_TZ", "cannot use TZ or CRON_TZ in schedule", func() *unstructured.Unstructured {
			o := find("CronJob", "backup-postgresql")
			unstructured.SetNestedField(o.Object, "CRON_TZ=UTC 59 23 * * 6", "spec", "schedule")
			return o
		}},
		{"CronJob name of 53 characters", "must be no more than 52 characters", func() *unstructured.Unstructured {
			o := find("CronJob", "backup-postgresql")
			o.SetName(strings.Repeat("c", 53))
			return o
		}},
		{"label value of 64 characters (a 54-character environment's Kustomization name)", "no more than 63", func() *unstructured.Unstructured {
			o := find("ConfigMap", "")
			o.SetLabels(map[string]string{"kustomize.toolkit.fluxcd.io/name": env + "x-namespace"})
			return o
		}},
		{"ConfigMap over 1 MiB", "1048576", func() *unstructured.Unstructured {
			o := find("ConfigMap", "")
			unstructured.SetNestedField(o.Object, strings.Repeat("x", 1<<20), "data", "big")
			return o
		}},
		{"Service name starting with a digit", "a DNS-1035 label must consist of", func() *unstructured.Unstructured {
			o := find("Service", "")
			o.SetName("1" + o.GetName())
			return o
		}},
		{"claim of 9Pi (more than the API server reads in thousandths)", `fractional byte value "9Pi" is invalid`, func() *unstructured.Unstructured {
			o := find("PersistentVolumeClaim", "invenio-files")
			unstructured.SetNestedField(o.Object, "9Pi", "spec", "resources", "requests", "storage")
			return o
		}},
		{"Namespace name of 64 characters", "no more than 63", func() *unstructured.Unstructured {
			o := find("Namespace", "")
			o.SetName(string(e.Namespace) + "x")
			return o
		}},
	}
	for _, c := range over {
		t.Run("refused/"+c.name, func(t *testing.T) {
			// Refused, or (quantities) accepted with a warning that the
			// value is not what was written.
			cl.Warnings.Take()
			err := cl.Apply(ctx, mapper, c.obj(), true)
			got := strings.Join(cl.Warnings.Take(), "\n")
			if err != nil {
				got = err.Error()
			}
			if got == "" {
				t.Fatalf("the API server accepted it: validation refusing it would be stricter than the cluster")
			}
			if !strings.Contains(got, c.want) {
				t.Fatalf("refused, but not for the edge (want %q): %s", c.want, got)
			}
		})
	}
}
