package review

import (
	"strings"
	"testing"

	"lbl.gov/invenio-gitops/generator/tree"
)

// TestRenderRefuses: a revision whose Flux objects the diff cannot build
// the way Flux does is an error naming the Kustomization, not a quiet
// wrong answer.
func TestRenderRefuses(t *testing.T) {
	repo := repository(t)
	cases := []struct {
		name string
		edit edit
		want string
	}{
		{"a field the diff does not apply", edit{"clusters/prod/prod.yaml", "  path: ./overlays/prod/app\n", "  path: ./overlays/prod/app\n  targetNamespace: elsewhere\n"},
			"cluster prod: Kustomization prod-app sets spec.targetNamespace, which the diff does not apply"},
		{"a path without kustomization.yaml", edit{"clusters/prod/prod.yaml", "  path: ./overlays/prod/app\n", "  path: ./overlays/prod/nothing\n"},
			"cluster prod: Kustomization prod-app: path ./overlays/prod/nothing has no kustomization.yaml"},
		{"an object applied twice", edit{"overlays/prod/app/kustomization.yaml", "- ../../../base/app\n", "- ../../../base/app\n- ../../../base/namespace\n"},
			"is applied twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(apply(t, repo, []edit{c.edit}), "prod")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Render: %v, want an error containing %q", err, c.want)
			}
		})
	}
	if _, err := Render(repo, "prod"); err != nil {
		t.Errorf("the repository itself: %v", err)
	}
}

// TestRenderScopes: a cluster running one environment is that
// environment's scope; a cluster shared by two is a scope of its own for
// its Flux objects and infrastructure.
func TestRenderScopes(t *testing.T) {
	repo := repository(t)
	shared := tree.Tree{}
	for p, b := range repo {
		if !strings.HasPrefix(p, "clusters/") {
			shared[p] = b
		}
	}
	// One cluster "lab" running dev and test: their layer files side by side.
	shared["clusters/lab/source.yaml"] = repo["clusters/dev/source.yaml"]
	shared["clusters/lab/infrastructure.yaml"] = repo["clusters/dev/infrastructure.yaml"]
	shared["clusters/lab/dev.yaml"] = repo["clusters/dev/dev.yaml"]
	shared["clusters/lab/test.yaml"] = repo["clusters/test/test.yaml"]
	for _, c := range []struct {
		repo tree.Tree
		want string
	}{
		{repo, "dev prod test"},
		{shared, "dev lab (cluster) prod test"},
	} {
		rev, err := Render(c.repo, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(sortedKeys(rev), " "); got != c.want {
			t.Errorf("scopes %q, want %q", got, c.want)
		}
		if _, ok := rev["dev"][ID{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization", Namespace: "flux-system", Name: "dev-app"}]; !ok {
			t.Errorf("%s: dev's scope lacks its Flux Kustomization dev-app", c.want)
		}
	}
}
