package generator

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/testrepo"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// repoRoot is the fixture repository (platform.yaml and secrets/) these
// tests run on, never the operator's description (internal/testrepo);
// internal/repocheck checks the repository's own.
var repoRoot = testrepo.Dir

// loadPlatform loads the fixture's description with the digests of
// its sealed secrets, as `platformctl generate` does.
func loadPlatform(t testing.TB) *config.Platform {
	p, _ := loadRepo(t)
	return p
}

func loadRepo(t testing.TB) (*config.Platform, tree.Tree) {
	t.Helper()
	p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := ReadSealed(p, repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	return p, sealed
}

// generate returns the generated tree together with the committed
// secrets/: the repository as Flux sees it.
func generate(t testing.TB) (*config.Platform, tree.Tree) {
	t.Helper()
	p, sealed := loadRepo(t)
	tr, err := Generate(p, sealed)
	if err != nil {
		t.Fatal(err)
	}
	return p, tr.With(sealed)
}

// decodeStream splits a YAML stream into documents.
// envComponents are the components one environment of p renders.
func envComponents(t testing.TB, p *config.Platform, env string) []*component.Component {
	t.Helper()
	e, err := Environment(p, env)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Components(p.Site, e, invenio.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func decodeStream(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, part := range splitDocs(b) {
		var d map[string]any
		if err := yaml.Unmarshal(part, &d); err != nil {
			t.Fatal(err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

func key(d map[string]any) string {
	u := unstructured.Unstructured{Object: d}
	return u.GetKind() + "/" + u.GetName()
}

// TestOverlaysBuildToTheModel is the proof that the derived overlays are
// right: kustomize's build of overlays/<env> equals the environment as
// rendered directly from the description, object for object.
func TestOverlaysBuildToTheModel(t *testing.T) {
	p, tr := generate(t)
	for _, e := range p.Environments {
		t.Run(string(e.Name), func(t *testing.T) {
			built, err := BuildYAML(tr, "overlays/"+string(e.Name))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]map[string]any{}
			for _, d := range decodeStream(t, built) {
				if d["kind"] == "SealedSecret" {
					continue // secrets/<env> is input, not rendered: TestSealedWhereRead covers it
				}
				got[key(d)] = d
			}
			if diff := cmp.Diff(renderedDocs(t, p.Site, e, SealedDigests(tr, e.Name)), got); diff != "" {
				t.Errorf("kustomize build of overlays/%s differs from the rendered environment (-want +got):\n%s", e.Name, diff)
			}
		})
	}
}

// renderedDocs is environment e rendered directly from the description
// and the digests of its sealed files, by Kind/name, as kustomize's build
// of its overlay must come out.
func renderedDocs(t *testing.T, site config.Site, e config.Environment, sealed map[string]string) map[string]map[string]any {
	t.Helper()
	model, err := Render(site, e, invenio.Options{Sealed: sealed})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]any{}
	for _, o := range model {
		// Round-trip through YAML so numbers compare alike.
		b, err := yaml.Marshal(o.Doc)
		if err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		want[key(d)] = d
	}
	return want
}

// TestGolden compares each environment's build with testdata/golden/<env>.yaml.
func TestGolden(t *testing.T) {
	p, tr := generate(t)
	for _, e := range p.Environments {
		t.Run(string(e.Name), func(t *testing.T) {
			built, err := BuildYAML(tr, "overlays/"+string(e.Name))
			if err != nil {
				t.Fatal(err)
			}
			built = maskSealed(built)
			golden := filepath.Join("testdata", "golden", string(e.Name)+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, built, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./generator -update` to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(built)); diff != "" {
				t.Errorf("%s is stale (-golden +built); if the change is intended run `go test ./... -update`:\n%s", golden, diff)
			}
		})
	}
}

// maskSealed replaces what changes with every sealing — ciphertexts and the
// digests of them in pod templates — so that rotating a credential does
// not change the golden files (sealing is randomised; TestSealedWhereRead
// proves the ciphertexts by unsealing them).
func maskSealed(b []byte) []byte {
	var out []string
	inEncrypted := -1 // indentation of the encryptedData key, while inside it
	for _, line := range strings.Split(string(b), "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		trimmed := strings.TrimSpace(line)
		switch {
		case inEncrypted >= 0 && indent > inEncrypted && trimmed != "":
			k, _, _ := strings.Cut(trimmed, ":")
			line = strings.Repeat(" ", indent) + k + ": <sealed>"
		case strings.HasPrefix(trimmed, "checksum/secrets:"):
			line = strings.Repeat(" ", indent) + "checksum/secrets: <digest of the sealed secrets>"
		default:
			inEncrypted = -1
		}
		if trimmed == "encryptedData:" {
			inEncrypted = indent
		}
		out = append(out, line)
	}
	return []byte(strings.Join(out, "\n"))
}

func TestMaskSealed(t *testing.T) {
	in := "spec:\n  encryptedData:\n    password: AgBx\n    sp.key: AgBy\n  template:\n    metadata:\n      annotations:\n        checksum/secrets: 12ab\n"
	want := "spec:\n  encryptedData:\n    password: <sealed>\n    sp.key: <sealed>\n  template:\n    metadata:\n      annotations:\n        checksum/secrets: <digest of the sealed secrets>\n"
	if diff := cmp.Diff(want, string(maskSealed([]byte(in)))); diff != "" {
		t.Errorf("maskSealed (-want +got):\n%s", diff)
	}
}
