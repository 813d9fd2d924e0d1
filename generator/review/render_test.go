package review

import (
	"maps"
	"slices"
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
		{"a path that does not exist", edit{"clusters/prod/prod.yaml", "  path: ./overlays/prod/app\n", "  path: ./overlays/prod/nothing\n"},
			"cluster prod: Kustomization prod-app: path ./overlays/prod/nothing does not exist in the repository"},
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
		if got := strings.Join(slices.Sorted(maps.Keys(rev)), " "); got != c.want {
			t.Errorf("scopes %q, want %q", got, c.want)
		}
		if _, ok := rev["dev"][ID{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization", Namespace: "flux-system", Name: "dev-app"}]; !ok {
			t.Errorf("%s: dev's scope lacks its Flux Kustomization dev-app", c.want)
		}
	}
}

// TestRenderBootstrappedCluster: after `flux bootstrap`, clusters/<cluster>/
// holds flux-system/ (its own kustomization.yaml, the controllers, and a
// Kustomization applying clusters/<cluster> itself); its objects are part
// of the cluster, and the self-reference is not built again.
func TestRenderBootstrappedCluster(t *testing.T) {
	repo := repository(t)
	repo = repo.With(tree.Tree{
		"clusters/prod/flux-system/kustomization.yaml":   []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [gotk-components.yaml, gotk-sync.yaml]\n"),
		"clusters/prod/flux-system/gotk-components.yaml": []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-system}\n"),
		"clusters/prod/flux-system/gotk-sync.yaml": []byte(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, ref: {branch: main}, url: ssh://git@example.org/repo}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/prod, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
`),
		// A layer path without kustomization.yaml: Flux takes every manifest.
		"extra/cm.yaml":            []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra, namespace: invenio-prod}\n"),
		"clusters/prod/extra.yaml": []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: extra, namespace: flux-system}\nspec: {path: ./extra, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}\n"),
	})
	rev, err := Render(repo, "prod")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{
		{Kind: "Namespace", Name: "flux-system"},
		{Group: "kustomize.toolkit.fluxcd.io", Kind: "Kustomization", Namespace: "flux-system", Name: "flux-system"},
		{Kind: "ConfigMap", Namespace: "invenio-prod", Name: "extra"},
		{Group: "apps", Kind: "Deployment", Namespace: "invenio-prod", Name: "web-ui"},
	} {
		if _, ok := rev["prod"][id]; !ok {
			t.Errorf("prod lacks %s", id)
		}
	}
}
