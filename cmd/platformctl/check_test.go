package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lbl.gov/invenio-gitops/generator/check"
	"lbl.gov/invenio-gitops/internal/testrepo"
)

// generatedRepo is a directory holding the fixture repository and the tree
// generated from it.
func generatedRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := testrepo.CopyTo(dir); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"generate", "-q", "-C", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCheckFindsPlantedDefects plants one defect of each check family in
// the generated files of a repository (as a hand edit would) and runs
// platformctl check: it exits 1 and names the environment, the file, the
// object and a check of that family; the repository as generated passes.
func TestCheckFindsPlantedDefects(t *testing.T) {
	const worker = "base/app/worker.yaml"
	role := "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: reader\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n"
	cases := []struct {
		family, file, old, new string
		want                   string // "<Kind/name> [<check>]", found in a line naming the file
	}{
		{"pod-security", worker, "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true",
			"Deployment/worker [privilege]"},
		{"references", worker, "claimName: invenio-files", "claimName: invenio-filez",
			"Deployment/worker [pvc-references]"},
		{"secrets", worker, "              name: invenio-app\n", "              name: invenio-ap\n",
			"Deployment/worker [secret-references]"},
		{"workloads", worker, "        imagePullPolicy: IfNotPresent\n", "",
			"Deployment/worker [images]"},
		{"availability", "overlays/test/app/web-ui.yaml", "maxUnavailable: 1", "maxUnavailable: 0",
			"PodDisruptionBudget/web-ui [pdb]"},
		{"network", worker, "  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: worker\n", "  podSelector:\n    matchLabels:\n      app.kubernetes.io/name: wroker\n",
			"NetworkPolicy/worker [dangling-network-policy]"},
		{"rbac", worker, "", role,
			"Role/reader [rbac]"},
		{"metadata", worker, "    app.kubernetes.io/part-of: inveniordm\n  name: worker\nspec:\n  egress:", "  name: worker\nspec:\n  egress:",
			"NetworkPolicy/worker [labels]"},
	}
	dir := generatedRepo(t)
	if stdout, _, status, msg := cli("check", "-C", dir); status != 0 {
		t.Fatalf("the generated fixture: status %d, %s\n%s", status, msg, stdout)
	}
	families := map[string]bool{}
	for _, c := range cases {
		families[c.family] = true
		t.Run(c.family, func(t *testing.T) {
			dir := generatedRepo(t)
			p := filepath.Join(dir, c.file)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			edited := string(b) + c.new
			if c.old != "" {
				if !strings.Contains(string(b), c.old) {
					t.Fatalf("fixture: %q is not in %s", c.old, c.file)
				}
				edited = strings.Replace(string(b), c.old, c.new, 1)
			}
			if err := os.WriteFile(p, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			env := "dev"
			if strings.HasPrefix(c.file, "overlays/") {
				env = strings.Split(c.file, "/")[1]
			}
			stdout, stderr, status, msg := cli("check", env, "-C", dir, "--check", c.family)
			found := false
			for _, l := range strings.Split(stdout, "\n") {
				found = found || (strings.HasPrefix(l, env+": "+c.file) && strings.Contains(l, ": "+c.want+": "))
			}
			if status != 1 || !found {
				t.Errorf("status %d (want 1), message %q; no line names %s and %q:\n%s", status, msg, c.file, c.want, stdout)
			}
			if !strings.Contains(stderr, "warning: "+c.file+" differs from what") {
				t.Errorf("no warning that %s is not what generate writes; stderr:\n%s", c.file, stderr)
			}
			// The JSON output says the same.
			stdout, _, _, _ = cli("check", env, "-C", dir, "--check", c.family, "--output", "json")
			var out checkOutput
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("--output json: %v\n%s", err, stdout)
			}
			found = false
			for _, f := range out.Environments[0].Findings {
				found = found || (f.Family == c.family && f.File == c.file && strings.Contains(c.want, f.Object+" ["+f.Check+"]"))
			}
			if !found {
				t.Errorf("--output json lacks the finding %q:\n%s", c.want, stdout)
			}
		})
	}
	for _, f := range check.Families {
		if !families[f] {
			t.Errorf("family %s has no planted defect", f)
		}
	}
}
