package generator

import (
	"strings"
	"testing"

	"lbl.gov/invenio-gitops/generator/invenio"
)

// TestInventoryFindsEveryReference checks the derivation on the fixture's
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
