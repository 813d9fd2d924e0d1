package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
)

// fixture is this package's own description (testdata/platform.yaml): one
// small environment named dev.
func fixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/platform.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fixtureRepo makes a repository holding description desc and, for each
// of envs, a sealing certificate of its own key in secrets/<env>/.
func fixtureRepo(t *testing.T, desc string, envs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, env := range envs {
		if err := os.MkdirAll(filepath.Join(dir, "secrets", env), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "secrets", env, "sealing-cert.pem"), sealingtest.ValidKeyPair(t).CertPEM, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// badCase is a description an operator might write, and the environments
// to seal before generate runs (those of the description, when it loads).
type badCase struct {
	name string
	edit editFunc
	envs []string
}

func replace(old, new string) editFunc {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic(fmt.Sprintf("the fixture has no %q", old))
		}
		return strings.Replace(s, old, new, 1)
	}
}

// inDefaults adds YAML lines (indented for defaults:) to the defaults.
func inDefaults(lines string) editFunc {
	return replace("defaults:\n", "defaults:\n"+lines)
}

// inEnv adds YAML lines (indented for an environment) to dev.
func inEnv(lines string) editFunc {
	return replace("    host: invenio-dev.example.org\n", "    host: invenio-dev.example.org\n"+lines)
}

var (
	long54 = strings.Repeat("a", 54)
	long63 = strings.Repeat("b", 63)
)

// badDescriptions are descriptions the cluster would refuse or misread,
// by kind; each must be refused by generate with a message that names
// the file, the line and the fix (testdata/bad-descriptions.golden).
var badDescriptions = []badCase{
	// Schedules: robfig/cron's standard parser, as the API server.
	{name: "schedule day-of-week 7", edit: inDefaults("  reports: {largestFiles: {enabled: true, schedule: \"17 3 * * 7\"}}\n")},
	{name: "schedule hour 25", edit: inEnv("    backup: {schedule: \"0 25 * * *\"}\n")},
	{name: "schedule with seconds", edit: inEnv("    backup: {schedule: \"0 0 2 * * *\"}\n")},
	{name: "schedule in words", edit: inEnv("    reports: {largestFiles: {schedule: every night}}\n")},
	{name: "schedule with CRON_TZ", edit: inEnv("    backup: {schedule: \"CRON_TZ=Europe/Berlin 0 2 * * *\"}\n")},
	{name: "schedule that never fires", edit: inEnv("    backup: {restoreCheck: {schedule: \"0 4 30 2 *\"}}\n")},
	{name: "schedule step zero", edit: inEnv("    backup: {schedule: \"*/0 2 * * *\"}\n")},
	// Names the generator derives from description values.
	{name: "environment name of 54 characters", edit: replace("- name: dev", "- name: "+long54), envs: []string{long54}},
	{name: "environment name of 63 characters", edit: replace("- name: dev", "- name: "+long63), envs: []string{long63}},
	{name: "secret name of 64 characters", edit: inEnv("    secrets: {redis: " + strings.Repeat("r", 64) + "}\n")},
	{name: "monitoring label value of 64 characters", edit: inEnv("    monitoring: {enabled: true, selectorLabels: {release: " + strings.Repeat("p", 64) + "}}\n")},
	{name: "ingress controller label value not a label", edit: inEnv("    ingress: {controllerLabels: {app: \"ingress nginx\"}}\n")},
	{name: "sealing controller name starting with a digit", edit: inEnv("    sealing: {controllerName: 1-sealed-secrets}\n")},
	{name: "environment name blamed, not a namespace that contains it", edit: replace("- name: dev", "- name: "+long54).then(replace("namespace: invenio-dev", "namespace: "+long54+"-name")), envs: []string{long54}},
	{name: "secret name of 253 characters", edit: inEnv("    secrets: {redis: " + strings.Repeat("s", 253) + "}\n")},
	{name: "label value of one character", edit: inEnv("    monitoring: {prometheusLabels: {app: \"-\"}}\n")},
	{name: "empty label key", edit: inEnv("    ingress: {controllerLabels: {\"\": nginx}}\n")},
	{name: "sealing controller name of 56 characters (Helm release name)", edit: inEnv("    sealing: {controllerName: s" + strings.Repeat("e", 55) + "}\n")},
	{name: "host that is an IP address", edit: replace("host: invenio-dev.example.org", "host: 10.0.0.1")},
	{name: "image repository with a tag", edit: inEnv("    images: {redis: {repository: \"redis:7\"}}\n")},
	{name: "image repository that is host:port", edit: inEnv("    images: {redis: {repository: \"localhost:5000\"}}\n")},
	{name: "Flux interval below a millisecond", edit: replace("gitops:\n", "gitops:\n  interval: 0.0001ms\n")},
	{name: "storage of 1500m bytes", edit: inEnv("    storage: {redis: 1500m}\n")},
	{name: "memory of 1.5 bytes", edit: inEnv("    workloads: {redis: {resources: {requests: {memory: \"1.5\"}}}}\n")},
	{name: "two environments in a cluster with different ingress pod labels", edit: func(s string) string {
		return s + "  - name: test\n    cluster: dev\n    namespace: invenio-test\n    host: invenio-test.example.org\n    ingress: {controllerLabels: {app.kubernetes.io/name: ingress-nginx, team: test}}\n"
	}, envs: []string{"dev", "test"}},
	{name: "environment name reserved", edit: replace("- name: dev", "- name: source"), envs: []string{"source"}},
	// Sizes: text, quantities and limits that round.
	{name: "site name of 10 MB", edit: inDefaults("  app: {siteName: " + strings.Repeat("x", 10<<20) + "}\n")},
	{name: "SAML title of 2 KiB", edit: inEnv("    auth: {mode: saml, saml: {idp: lab, title: " + strings.Repeat("t", 2048) + ", metadataURL: https://idp.example.org/metadata, egressCIDRs: [192.0.2.0/24]}}\n")},
	{name: "storage beyond int64", edit: inEnv("    storage: {files: 99999999999999999999999Ei}\n")},
	{name: "storage of 9Pi", edit: inEnv("    storage: {opensearch: 9Pi}\n")},
	{name: "memory limit beyond int64", edit: inEnv("    workloads: {webUI: {resources: {limits: {memory: 10000000000000000000}}}}\n")},
	{name: "upload limit that rounds to 0m", edit: inEnv("    ingress: {maxUploadSize: 500Ki}\n")},
	{name: "memory limit of 1 byte (Redis would read maxmemory 0 as unlimited)", edit: inEnv("    workloads: {redis: {resources: {requests: {memory: \"1\"}, limits: {memory: \"1\"}}}}\n")},
	{name: "backup memory limit of 1Ki", edit: inEnv("    backup: {enabled: true, target: {volume: {storageClass: nfs, size: 10Gi}}, resources: {limits: {memory: 1Ki}}}\n")},
	{name: "heap not a whole number of MiB", edit: inEnv("    search: {heapSize: 1000Ki}\n")},
	{name: "zero storage", edit: inEnv("    storage: {redis: \"0\"}\n")},
	// Namespaces that belong to someone else.
	{name: "namespace kube-system", edit: replace("namespace: invenio-dev", "namespace: kube-system")},
	{name: "namespace default", edit: replace("namespace: invenio-dev", "namespace: default")},
	{name: "namespace kube-node-lease", edit: replace("namespace: invenio-dev", "namespace: kube-node-lease")},
	{name: "namespace flux-system", edit: replace("namespace: invenio-dev", "namespace: flux-system")},
	{name: "namespace of a custom Flux", edit: replace("namespace: invenio-dev", "namespace: gitops").then(replace("gitops:\n", "gitops:\n  namespace: gitops\n"))},
	{name: "namespace cert-manager", edit: replace("namespace: invenio-dev", "namespace: cert-manager")},
	{name: "namespace of the ingress controller", edit: replace("namespace: invenio-dev", "namespace: ingress-nginx")},
	{name: "namespace monitoring", edit: replace("namespace: invenio-dev", "namespace: monitoring")},
	{name: "namespace of the sealing controller", edit: replace("namespace: invenio-dev", "namespace: sealed-secrets").then(inEnv("    sealing: {controllerNamespace: sealed-secrets}\n"))},
	// Input that is not a description.
	{name: "unknown field", edit: inEnv("    hots: invenio.example.org\n")},
	{name: "quantity with a space", edit: inEnv("    storage: {files: 20 GB}\n")},
	{name: "two documents", edit: func(s string) string { return s + "---\nsite: {}\n" }},
	{name: "empty file", edit: func(string) string { return "" }},
	{name: "binary file", edit: func(string) string { return "\x7fELF\x02\x01\x01\x00\x00\x00" }},
	{name: "tab in the indentation", edit: replace("    host: invenio-dev.example.org", "\thost: invenio-dev.example.org")},
	{name: "not UTF-8", edit: replace("name: lab-repository", "name: lab-r\xe9pository")},
}

// then chains edits.
func (f editFunc) then(gs ...editFunc) editFunc {
	return func(s string) string {
		s = f(s)
		for _, g := range gs {
			s = g(s)
		}
		return s
	}
}

type editFunc func(string) string

// TestBadDescriptionsAreRefused: generate refuses each bad description
// with its exact message (golden file) and exit status 2, and writes
// nothing: the repository is byte for byte what it was.
func TestBadDescriptionsAreRefused(t *testing.T) {
	cert := sealingtest.ValidKeyPair(t).CertPEM
	var golden strings.Builder
	for _, c := range badDescriptions {
		dir := t.TempDir()
		desc := c.edit(fixture(t))
		if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(desc), 0o644); err != nil {
			t.Fatal(err)
		}
		envs := c.envs
		if envs == nil {
			envs = []string{"dev"}
		}
		for _, env := range envs {
			if err := os.MkdirAll(filepath.Join(dir, "secrets", env), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "secrets", env, "sealing-cert.pem"), cert, 0o644); err != nil {
				t.Fatal(err)
			}
			// Seals when the description loads; when it does not, generate
			// must say why, which is what this test is about.
			var out bytes.Buffer
			_ = run([]string{"secrets", "init", env, "-C", dir, "-f", filepath.Join(dir, "platform.yaml")}, &out, &out)
		}
		before := snapshot(t, dir)
		var stdout, stderr bytes.Buffer
		err := run([]string{"generate", "-C", dir, "-f", filepath.Join(dir, "platform.yaml")}, &stdout, &stderr)
		msg := ""
		if err != nil {
			msg = strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
		}
		fmt.Fprintf(&golden, "## %s\nexit %d\n%s\n\n", c.name, exitStatus(err), msg)
		t.Run(c.name, func(t *testing.T) {
			if err == nil {
				t.Fatalf("generate accepted it:\n%s", stdout.String())
			}
			if code := exitStatus(err); code != 2 {
				t.Errorf("exit status %d, want 2 (bad input)", code)
			}
			if !strings.Contains(msg, "platform.yaml:") {
				t.Errorf("the message names no file and line: %s", msg)
			}
			if d := cmp.Diff(before, snapshot(t, dir)); d != "" {
				t.Errorf("generate changed the repository (-before +after):\n%s", d)
			}
		})
	}
	const file = "testdata/bad-descriptions.golden"
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		if err := os.WriteFile(file, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), golden.String()); d != "" {
		t.Errorf("messages differ from %s (-want +got; go test -update to accept):\n%s", file, d)
	}
}
