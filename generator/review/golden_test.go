package review

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/testrepo"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// repoRoot is the fixture repository (internal/testrepo): platform.yaml and secrets/.
var repoRoot = testrepo.Dir

var (
	repoOnce sync.Once
	repoTree tree.Tree
	repoErr  error
)

// repository is the repository as the generator writes it now, with the
// committed secrets/: the base revision of every scenario.
func repository(t *testing.T) tree.Tree {
	t.Helper()
	repoOnce.Do(func() {
		p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
		if err != nil {
			repoErr = err
			return
		}
		sealed, err := generator.ReadSealed(p, repoRoot)
		if err != nil {
			repoErr = err
			return
		}
		g, err := generator.Generate(p, sealed)
		if err != nil {
			repoErr = err
			return
		}
		repoTree = g.With(sealed)
	})
	if repoErr != nil {
		t.Fatal(repoErr)
	}
	return repoTree.With()
}

// edit is a change to a file of the fixture tree: old (which must occur
// exactly once) replaced by new; old "" writes new as the whole file, new
// "" with old "" deletes it.
type edit struct{ path, old, new string }

func apply(t *testing.T, repo tree.Tree, edits []edit) tree.Tree {
	t.Helper()
	out := repo.With()
	for _, e := range edits {
		switch {
		case e.old == "" && e.new == "":
			if _, ok := out[e.path]; !ok {
				t.Fatalf("fixture: %s does not exist", e.path)
			}
			delete(out, e.path)
		case e.old == "":
			out[e.path] = []byte(e.new)
		default:
			s := string(out[e.path])
			if n := strings.Count(s, e.old); n != 1 {
				t.Fatalf("fixture: %q occurs %d times in %s, want once (did the generator's output change?)", e.old, n, e.path)
			}
			out[e.path] = []byte(strings.Replace(s, e.old, e.new, 1))
		}
	}
	return out
}

// reformat rewrites a YAML file as JSON with its documents' keys in
// another order: same objects, different bytes.
func reformat(t *testing.T, repo tree.Tree, path string) edit {
	t.Helper()
	docs, err := decode(repo[path])
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		j, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, "# reformatted\n"+string(j)+"\n")
	}
	return edit{path: path, new: strings.Join(parts, "---\n")}
}

// split moves every document of a file into a file of its own below
// moved/, and rewrites the directory's kustomization.yaml, if it has one,
// to list them instead.
func split(t *testing.T, repo tree.Tree, dir, file string) []edit {
	t.Helper()
	docs, err := decode(repo[dir+"/"+file])
	if err != nil {
		t.Fatal(err)
	}
	edits := []edit{{path: dir + "/" + file}}
	var names []string
	for _, d := range docs {
		name := strings.ToLower(d["kind"].(string)) + "-" + str(d, "metadata", "name") + ".yaml"
		b, err := tree.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		edits = append(edits, edit{path: dir + "/moved/" + name, new: string(b)})
		names = append(names, "- moved/"+name)
	}
	if _, ok := repo[dir+"/kustomization.yaml"]; ok {
		edits = append(edits, edit{path: dir + "/kustomization.yaml", old: "- " + file + "\n", new: strings.Join(names, "\n") + "\n"})
	}
	return edits
}

// moveDoc moves the document of kind from file into dir/moved.yaml, a
// directory of another layer, listing it in that kustomization.yaml.
func moveDoc(t *testing.T, repo tree.Tree, file, kind, dir string) []edit {
	t.Helper()
	docs, err := decode(repo[file])
	if err != nil {
		t.Fatal(err)
	}
	var keep, moved []tree.Doc
	for _, d := range docs {
		if d["kind"] == kind {
			moved = append(moved, d)
		} else {
			keep = append(keep, d)
		}
	}
	if len(moved) != 1 {
		t.Fatalf("fixture: %d %s in %s, want 1", len(moved), kind, file)
	}
	k, err := tree.Marshal(keep...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tree.Marshal(moved...)
	if err != nil {
		t.Fatal(err)
	}
	return []edit{
		{path: file, new: string(k)},
		{path: dir + "/moved.yaml", new: string(m)},
		{dir + "/kustomization.yaml", "resources:\n", "resources:\n- moved.yaml\n"},
	}
}

// extraProd is a file of objects the generator does not write, added to
// prod's app layer: an autoscaler, RBAC, and a flow from the worker to
// the API.
const extraProd = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: frontend
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: frontend}
  minReplicas: 2
  maxReplicas: 4
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: worker-reads-pods
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: worker, namespace: invenio-prod}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: worker-to-web-api
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: worker}
  policyTypes: [Egress]
  egress:
  - to:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: web-api}
    ports:
    - {port: 5000, protocol: TCP}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-api-from-worker
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: web-api}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {app.kubernetes.io/name: worker}
    ports:
    - {port: 5000, protocol: TCP}
`

// scenarios are the fixture revisions: the repository as generated now
// (base) and with the edits (head), compared for one environment.
func scenarios(t *testing.T, repo tree.Tree) []struct {
	name, env string
	base      tree.Tree
	edits     []edit
} {
	legacy := tree.Tree{}
	for p, b := range repo {
		if !strings.HasPrefix(p, "clusters/") {
			legacy[p] = b
		}
	}
	return []struct {
		name, env string
		base      tree.Tree
		edits     []edit
	}{
		{name: "categories", env: "prod", edits: []edit{
			// image tag
			{"overlays/prod/app/kustomization.yaml", "kind: Kustomization\n", "images:\n- name: ghcr.io/lbnl/lbnl-data-repository\n  newTag: v12.0.11-lbnl.1\nkind: Kustomization\n"},
			// replicas, and an autoscaler, RBAC and a flow (extraProd)
			{"overlays/prod/app/kustomization.yaml", "- count: 2\n  name: frontend\n", "- count: 3\n  name: frontend\n"},
			{"overlays/prod/app/kustomization.yaml", "- ../../../base/app\n", "- ../../../base/app\n- extra.yaml\n"},
			// HPA bounds of an existing autoscaler
			{"overlays/prod/app/web-ui.yaml", "  maxReplicas: 6\n", "  maxReplicas: 8\n"},
			{"overlays/prod/app/extra.yaml", "", extraProd},
			// resources
			{"overlays/prod/app/patches/deployment-web-ui.yaml", "limits:\n            cpu: \"2\"\n            memory: 3Gi", "limits:\n            cpu: \"2\"\n            memory: 4Gi"},
			// a claim template (StatefulSet) and a claim's class
			{"overlays/prod/data/patches/statefulset-postgresql.yaml", "storage: 50Gi", "storage: 80Gi"},
			{"base/app/web-ui.yaml", "storageClassName: cephfs", "storageClassName: nfs"},
			// a flow closed: one of the SSO address blocks
			{"overlays/prod/app/patches/networkpolicy-web-ui.yaml", "- ipBlock:\n        cidr: 131.243.0.0/16\n", ""},
			// a Gateway listener (host and TLS) and a route's host
			{"overlays/prod/app/patches/gateway-invenio.yaml", "  listeners:\n", "  listeners:\n  - allowedRoutes:\n      namespaces:\n        from: Same\n    hostname: data.lbl.gov\n    name: https-data\n    port: 443\n    protocol: HTTPS\n    tls:\n      certificateRefs:\n      - name: data-tls\n      mode: Terminate\n"},
			{"overlays/prod/app/patches/httproute-invenio.yaml", "  hostnames:\n  - invenio.lbl.gov\n", "  hostnames:\n  - invenio.lbl.gov\n  - data.lbl.gov\n"},
			// security context loosened
			{"overlays/prod/app/patches/deployment-worker.yaml", "      - name: worker\n", "      - name: worker\n        securityContext:\n          allowPrivilegeEscalation: true\n          capabilities:\n            add: [NET_ADMIN]\n"},
			// a line of a configuration file (shown as a line diff, not flagged)
			{"base/app/frontend.yaml", "    upstream api { server web-api:5000; }\n", "    upstream api { server web-api:5000 max_fails=3; }\n"},
			// Flux
			{"clusters/prod/prod.yaml", "  path: ./overlays/prod/app\n  prune: true\n", "  path: ./overlays/prod/app\n  prune: false\n"},
			{"clusters/prod/prod.yaml", "  dependsOn:\n  - name: prod-data\n", "  dependsOn:\n  - name: prod-secrets\n"},
			// sealed secrets: one key re-sealed, one added; the pods that read it restart
			{"secrets/prod/invenio-app.yaml", "    secret-key: AgB", "    secret-key: AgX"},
			{"secrets/prod/invenio-app.yaml", "  encryptedData:\n", "  encryptedData:\n    new-key: AgAAAAAAAAAA\n"},
			{"overlays/prod/app/patches/deployment-web-ui.yaml", "checksum/secrets: ", "checksum/secrets: 0000"},
		}},
		{name: "formatting", env: "prod", edits: []edit{
			reformat(t, repo, "overlays/prod/app/patches/deployment-web-ui.yaml"),
			reformat(t, repo, "clusters/prod/prod.yaml"),
			reformat(t, repo, "secrets/prod/invenio-app.yaml"),
			reformat(t, repo, "base/app/web-ui.yaml"),
		}},
		{name: "moved", env: "prod", edits: append(append(split(t, repo, "base/app", "web-ui.yaml"),
			edit{path: "secrets/prod/invenio-redis.yaml"},
			edit{path: "secrets/prod/redis/credentials.yaml", new: string(repo["secrets/prod/invenio-redis.yaml"])},
			edit{"secrets/prod/kustomization.yaml", "- invenio-redis.yaml\n", "- redis/credentials.yaml\n"}),
			// the Flux objects of the cluster, one file each (no kustomization.yaml there)
			split(t, repo, "clusters/prod", "prod.yaml")...)},
		{name: "other-layer", env: "prod", edits: moveDoc(t, repo, "base/app/web-ui.yaml", "PersistentVolumeClaim", "base/data")},
		{name: "removed", env: "dev", edits: []edit{
			{"overlays/dev/app/kustomization.yaml", "- ../../../base/components/pgadmin\n", ""},
			{"overlays/dev/app/kustomization.yaml", "- path: patches/deployment-pgadmin.yaml\n", ""},
			{path: "overlays/dev/app/patches/deployment-pgadmin.yaml"},
		}},
		{name: "before-flux", env: "test", base: legacy},
	}
}

// digests masks SHA-256 digests (the checksum annotations follow the
// committed ciphertexts, which a rotation changes).
var digests = regexp.MustCompile(`\b[0-9a-f]{64}\b`)

func TestScenarios(t *testing.T) {
	repo := repository(t)
	for _, sc := range scenarios(t, repo) {
		t.Run(sc.name, func(t *testing.T) {
			base := repo
			if sc.base != nil {
				base = sc.base
			}
			head := apply(t, repo, sc.edits)
			if cmp.Equal(base, head) {
				t.Fatal("fixture: the head revision has the same bytes as the base")
			}
			r, err := Diff(base, head, sc.env)
			if err != nil {
				t.Fatal(err)
			}
			r.Base, r.Head = "base", "head"
			outputs := []struct {
				ext   string
				write func(*bytes.Buffer) error
			}{
				{"txt", func(b *bytes.Buffer) error { return Text(b, r, Style{}) }},
				{"md", func(b *bytes.Buffer) error { return Markdown(b, r) }},
				{"json", func(b *bytes.Buffer) error { return JSON(b, r) }},
			}
			for _, o := range outputs {
				if o.ext != "txt" && sc.name != "categories" {
					continue
				}
				var b bytes.Buffer
				if err := o.write(&b); err != nil {
					t.Fatal(err)
				}
				got := digests.ReplaceAllString(b.String(), "<sha256>")
				golden(t, filepath.Join("testdata", sc.name+"."+o.ext), got)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./generator/review -update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-golden +got); if intended, run `go test ./generator/review -update`:\n%s", path, diff)
	}
}
