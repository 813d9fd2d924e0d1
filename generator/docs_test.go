package generator

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/invenio"
)

// TestGeneratedDocsAreFresh keeps the derived tables in docs/ in step
// with the code they are derived from.
func TestGeneratedDocsAreFresh(t *testing.T) {
	p := loadPlatform(t)
	for _, c := range []struct {
		file   string
		render func() (string, error)
	}{
		{"docs/secret-inventory.md", func() (string, error) { return InventoryDoc(p) }},
		{"docs/network-flows.md", func() (string, error) { return FlowsDoc(p) }},
	} {
		t.Run(c.file, func(t *testing.T) {
			want, err := c.render()
			if err != nil {
				t.Fatal(err)
			}
			checkDocFresh(t, c.file, want)
		})
	}
}

// checkDocFresh compares a derived doc (path relative to the repository)
// with what the code derives now, or rewrites it under -update.
func checkDocFresh(t *testing.T, file, want string) {
	t.Helper()
	path := filepath.Join(repoRoot, file)
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
		t.Errorf("%s is stale; run `go test ./generator -update` (-want +got):\n%s", file, diff)
	}
}

// TestInventoryFindsEveryReference checks the derivation on the real
// environments: the keys each part reads by construction all show up.
func TestInventoryFindsEveryReference(t *testing.T) {
	p := loadPlatform(t)
	for _, tc := range []struct {
		env  string
		want []string // secret/key that must be there
		not  []string // and must not
	}{
		{"dev", []string{"invenio-app/secret-key", "invenio-app/csrf-secret-salt", "invenio-postgresql/password", "invenio-rabbitmq/password", "invenio-redis/password", "invenio-pgadmin/password"}, []string{"invenio-saml/sp.key"}},
		{"prod", []string{"invenio-app/secret-key", "invenio-saml/sp.key", "invenio-saml/sp.crt"}, []string{"invenio-pgadmin/password"}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			e, err := Environment(p, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Render(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, s := range Inventory(r) {
				have[s.Secret+"/"+s.Key] = true
			}
			for _, w := range tc.want {
				if !have[w] {
					t.Errorf("inventory of %s lacks %s (has %v)", tc.env, w, keys(have))
				}
			}
			for _, n := range tc.not {
				if have[n] {
					t.Errorf("inventory of %s has %s, which %s does not use", tc.env, n, tc.env)
				}
			}
		})
	}
}

func keys(m map[string]bool) string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	return strings.Join(l, ", ")
}
