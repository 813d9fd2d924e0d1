package repocheck

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
)

var update = flag.Bool("update", false, "rewrite the derived docs from the repository's description")

// root is the repository: its platform.yaml, secrets/ and committed tree.
const root = "../.."

// load reads the repository's description and sealed secrets.
func load(t *testing.T) (*config.Platform, tree.Tree) {
	t.Helper()
	p, err := config.Load(filepath.Join(root, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := generator.ReadSealed(p, root)
	if err != nil {
		t.Fatal(err)
	}
	if err := generator.CheckSealedLists(p.Environments, sealed); err != nil {
		t.Fatal(err)
	}
	return p, sealed
}

// repository is the repository as Flux sees it: the tree the description
// generates, with secrets/.
func repository(t *testing.T) (*config.Platform, tree.Tree) {
	t.Helper()
	p, sealed := load(t)
	tr, err := generator.Generate(p, sealed)
	if err != nil {
		t.Fatal(err)
	}
	return p, tr.With(sealed)
}

// TestCommittedTreeIsFresh fails when base/, overlays/ or clusters/ differ
// from what the generator writes from platform.yaml: nobody edits them by
// hand, and a description changed without `make generate` is caught.
func TestCommittedTreeIsFresh(t *testing.T) {
	p, sealed := load(t)
	tr, err := generator.Generate(p, sealed)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := tree.Tree{}
	for _, dir := range generator.Owned.Roots {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) {
				return nil
			}
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			b, err := os.ReadFile(path)
			onDisk[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string][]byte(tr), map[string][]byte(onDisk), cmp.Transformer("string", func(b []byte) string { return string(b) })); diff != "" {
		t.Errorf("the committed tree is not what `make generate` writes from platform.yaml (-generated +committed); run `make generate` and commit:\n%s", diff)
	}
}

// TestDerivedDocsAreFresh keeps the tables in docs/ that are derived from
// the description in step with it (`make generate` rewrites them).
func TestDerivedDocsAreFresh(t *testing.T) {
	p, tr := repository(t)
	for _, c := range []struct {
		file   string
		render func() (string, error)
	}{
		{"docs/secret-inventory.md", func() (string, error) { return generator.InventoryDoc(p) }},
		{"docs/network-flows.md", func() (string, error) { return generator.FlowsDoc(p) }},
		{"docs/operations-tables.md", func() (string, error) { return generator.OperationsDoc(p, tr) }},
	} {
		t.Run(c.file, func(t *testing.T) {
			want, err := c.render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(root, c.file)
			if *update {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("%s is stale; run `make generate` (-want +got):\n%s", c.file, diff)
			}
		})
	}
}

// TestManifestChecks runs `platformctl check` on every environment: no
// finding (the deviations of generator/check accept theirs, logged here).
func TestManifestChecks(t *testing.T) {
	p, tr := repository(t)
	for _, e := range p.Environments {
		env := string(e.Name)
		t.Run(env, func(t *testing.T) {
			r, err := generator.CheckEnvironment(p, tr, env)
			if err != nil {
				t.Fatal(err)
			}
			var accepted []string
			for _, a := range r.Accepted {
				accepted = append(accepted, a.Object+" ["+a.Check+"]: "+a.Detail+" (accepted: "+a.Accepted+")")
			}
			t.Logf("%d findings accepted:\n%s", len(accepted), strings.Join(accepted, "\n"))
			for _, f := range r.Findings {
				t.Errorf("overlays/%s: %s [%s]: %s: %s", env, f.File, f.Check, f.Object, f.Detail)
			}
		})
	}
}
