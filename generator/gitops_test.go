package generator

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/crds"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/tree"
)

// repoTree is the repository as Flux sees it: the generated tree plus the
// sealed secrets/ the `secrets` commands maintain.
func repoTree(t testing.TB) (tr tree.Tree) {
	t.Helper()
	_, tr = generate(t)
	return tr
}

// clusterFiles are the files Flux applies from clusters/<cluster>/ (what
// `flux bootstrap --path=clusters/<cluster>` reconciles).
func clusterFiles(tr tree.Tree, cluster string) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range tr {
		if strings.HasPrefix(p, flux.ClustersDir+"/"+cluster+"/") {
			out[p] = b
		}
	}
	return out
}

// TestFluxObjectsDecodeStrictly: every object under clusters/ decodes into
// its Flux Go type with no unknown field, and re-encodes to the same data.
func TestFluxObjectsDecodeStrictly(t *testing.T) {
	_, tr := generate(t)
	n := 0
	for _, p := range tr.Paths() {
		if !strings.HasPrefix(p, flux.ClustersDir+"/") {
			continue
		}
		for _, doc := range splitDocs(tr[p]) {
			var head struct{ Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			var obj any
			switch head.Kind {
			case kustomizev1.KustomizationKind:
				obj = &kustomizev1.Kustomization{}
			case sourcev1.GitRepositoryKind:
				obj = &sourcev1.GitRepository{}
			default:
				t.Errorf("%s: unexpected kind %q in a cluster directory", p, head.Kind)
				continue
			}
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s: %s does not decode strictly: %v", p, head.Kind, err)
				continue
			}
			again, err := tree.MarshalObjects(obj)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			yaml.Unmarshal(doc, &a)
			yaml.Unmarshal(again, &b)
			if diff := cmp.Diff(a, b); diff != "" {
				t.Errorf("%s: %s loses data through its Go type (-file +typed):\n%s", p, head.Kind, diff)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no Flux objects under clusters/")
	}
}

// TestGitOpsWiring: every cluster's Kustomizations build, depend on
// existing layers without cycles and apply no object twice (CheckGitOps);
// each environment's layers together apply exactly what overlays/<env>
// builds, plus its sealed secrets.
func TestGitOpsWiring(t *testing.T) {
	p := loadPlatform(t)
	tr := repoTree(t)
	objs, err := CheckGitOps(p, tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range flux.Clusters(p) {
		for _, e := range c.Envs {
			t.Run(string(e.Name), func(t *testing.T) {
				m, err := Build(tr, "overlays/"+string(e.Name))
				if err != nil {
					t.Fatal(err)
				}
				var want []ObjectID
				for _, r := range m.Resources() {
					want = append(want, objectID(r.GetApiVersion(), r.GetKind(), r.GetNamespace(), r.GetName()))
				}
				var got []ObjectID
				for _, l := range flux.EnvLayers {
					got = append(got, objs[c.Name][string(e.Name)+"-"+l]...)
				}
				sortIDs(want)
				sortIDs(got)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("the Flux layers of %s apply something else than overlays/%s builds (-overlay +layers):\n%s", e.Name, e.Name, diff)
				}
			})
		}
	}
}

func sortIDs(ids []ObjectID) { sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] }) }

// TestCheckGitOpsCatchesBrokenWiring: each kind of broken wiring makes
// CheckGitOps fail with a message naming it.
func TestCheckGitOpsCatchesBrokenWiring(t *testing.T) {
	repo := tree.Tree{
		"a/kustomization.yaml": []byte("resources: [cm.yaml]\n"),
		"a/cm.yaml":            []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: n}\n"),
		"b/kustomization.yaml": []byte("resources: [cm.yaml]\n"),
		"b/cm.yaml":            []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y, namespace: n}\n"),
		"c/kustomization.yaml": []byte("resources: [missing.yaml]\n"),
	}
	for _, c := range []struct {
		name   string
		layers []flux.Layer
		want   string
	}{
		{"fine", []flux.Layer{{Name: "a", Path: "a"}, {Name: "b", Path: "b", DependsOn: []string{"a"}}}, ""},
		{"same object twice", []flux.Layer{{Name: "a", Path: "a"}, {Name: "a2", Path: "a"}}, "/ConfigMap n/x is applied by both a and a2"},
		{"unknown dependency", []flux.Layer{{Name: "a", Path: "a", DependsOn: []string{"z"}}}, "Kustomization a depends on z, which the cluster does not have"},
		{"cycle", []flux.Layer{{Name: "a", Path: "a", DependsOn: []string{"b"}}, {Name: "b", Path: "b", DependsOn: []string{"a"}}}, "dependsOn cycle: a → b → a"},
		{"missing path", []flux.Layer{{Name: "d", Path: "d"}}, "Kustomization d: path ./d has no kustomization.yaml in the repository"},
		{"does not build", []flux.Layer{{Name: "c", Path: "c"}}, "Kustomization c: kustomize build ./c:"},
		{"patch applies", []flux.Layer{{Name: "a", Path: "a", Patches: []kustomize.Patch{{
			Patch:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {k: v}\n",
			Target: &kustomize.Selector{Kind: "ConfigMap", Name: "x"},
		}}}}, ""},
		{"patch target missing", []flux.Layer{{Name: "a", Path: "a", Patches: []kustomize.Patch{{
			Patch:  "apiVersion: v1\nkind: Secret\nmetadata: {name: nope}\ndata: {k: v}\n",
			Target: &kustomize.Selector{Kind: "Secret", Name: "nope"},
		}}}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			builds := buildLayers(NewBuilds().Repo(repo), [][]flux.Layer{c.layers})
			_, _, err := checkLayers(repo, c.layers, builds[0])
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestEveryManifestIsApplied: every file under base/, overlays/ and
// secrets/ is reached from some cluster's Kustomization (through
// resources, components and patches), so nothing in the repository is
// silently left out of the clusters. The only files no Kustomization reads
// are overlays/<env>/kustomization.yaml, which build a whole environment
// for review and tests.
func TestEveryManifestIsApplied(t *testing.T) {
	p := loadPlatform(t)
	tr := repoTree(t)
	reached := map[string]bool{}
	var walk func(dir string)
	walk = func(dir string) {
		kfile := path.Join(dir, "kustomization.yaml")
		if reached[kfile] {
			return
		}
		reached[kfile] = true
		var k struct {
			Resources  []string
			Components []string
			Patches    []struct{ Path string }
		}
		if err := yaml.Unmarshal(tr[kfile], &k); err != nil {
			t.Fatalf("%s: %v", kfile, err)
		}
		for _, r := range append(k.Resources, k.Components...) {
			target := path.Join(dir, r)
			if _, isFile := tr[target]; isFile {
				reached[target] = true
			} else {
				walk(target)
			}
		}
		for _, pt := range k.Patches {
			if pt.Path != "" {
				reached[path.Join(dir, pt.Path)] = true
			}
		}
	}
	for _, c := range flux.Clusters(p) {
		layers, err := flux.Layers(p, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			walk(l.Path)
		}
	}
	aggregate := map[string]bool{}
	for _, e := range p.Environments {
		aggregate["overlays/"+string(e.Name)+"/kustomization.yaml"] = true
	}
	for _, f := range tr.Paths() {
		top := strings.SplitN(f, "/", 2)[0]
		if top != "base" && top != "overlays" && top != "secrets" {
			continue
		}
		if strings.HasSuffix(f, ".pem") {
			continue // the sealing certificate: input of `secrets`, not a manifest
		}
		if !reached[f] && !aggregate[f] {
			t.Errorf("%s is not applied by any Kustomization of any cluster", f)
		}
	}
}

// TestClusterGolden compares what each cluster reconciles with
// testdata/golden/cluster-<name>.yaml: its Flux objects, then each
// infrastructure layer as built with the cluster's patches.
func TestClusterGolden(t *testing.T) {
	p := loadPlatform(t)
	tr := repoTree(t)
	for _, c := range flux.Clusters(p) {
		t.Run(c.Name, func(t *testing.T) {
			var out strings.Builder
			files := clusterFiles(tr, c.Name)
			var names []string
			for f := range files {
				names = append(names, f)
			}
			sort.Strings(names)
			for _, f := range names {
				out.WriteString("# ---- " + f + "\n")
				out.Write(files[f])
			}
			layers, err := flux.Layers(p, c)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				if l.Env != "" {
					continue // the environments' layers are in the env golden files
				}
				m, err := BuildLayer(tr, l)
				if err != nil {
					t.Fatal(err)
				}
				b, err := m.AsYaml()
				if err != nil {
					t.Fatal(err)
				}
				out.WriteString("# ---- built: Kustomization " + l.Name + " (./" + l.Path + ")\n")
				out.Write(b)
			}
			golden := filepath.Join("testdata", "golden", "cluster-"+c.Name+".yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `go test ./generator -update` to create it)", err)
			}
			if diff := cmp.Diff(string(want), out.String()); diff != "" {
				t.Errorf("%s differs (-golden +generated); if intended, run `go test ./generator -update`:\n%s", golden, diff)
			}
		})
	}
}

// TestClusterVariants: dev and test share a cluster, and prod's cluster
// runs its sealed-secrets controller under another name and namespace
// (seed 002's sealed-secrets-cvre in shared-services). The shared
// infrastructure directory stays the same; only prod's Kustomization
// carries patches, and its build has the cluster's values.
func TestClusterVariants(t *testing.T) {
	p := loadPlatform(t)
	for i := range p.Environments {
		e := &p.Environments[i]
		switch e.Name {
		case "dev", "test":
			e.Cluster = "lab"
		case "prod":
			e.Sealing.ControllerName = "sealed-secrets-cvre"
			e.Sealing.ControllerNamespace = "shared-services"
		}
	}
	tr, err := Generate(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	var clusters []string
	for _, c := range flux.Clusters(p) {
		clusters = append(clusters, c.Name)
	}
	if diff := cmp.Diff([]string{"lab", "prod"}, clusters); diff != "" {
		t.Fatalf("clusters (-want +got):\n%s", diff)
	}
	var labFiles []string
	for f := range clusterFiles(tr, "lab") {
		labFiles = append(labFiles, f)
	}
	sort.Strings(labFiles)
	if diff := cmp.Diff([]string{"clusters/lab/dev.yaml", "clusters/lab/infrastructure.yaml", "clusters/lab/source.yaml", "clusters/lab/test.yaml"}, labFiles); diff != "" {
		t.Errorf("clusters/lab (-want +got):\n%s", diff)
	}
	for _, c := range flux.Clusters(p) {
		layers, err := flux.Layers(p, c)
		if err != nil {
			t.Fatal(err)
		}
		m, err := BuildLayer(tr, layers[0])
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.GetById(resid.NewResIdWithNamespace(resid.NewGvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "sealed-secrets", "flux-system"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := r.Map()
		release, _, _ := unstructured.NestedString(got, "spec", "releaseName")
		target, _, _ := unstructured.NestedString(got, "spec", "targetNamespace")
		fullname, _, _ := unstructured.NestedString(got, "spec", "values", "fullnameOverride")
		want := map[string]string{"lab": "sealed-secrets-controller kube-system", "prod": "sealed-secrets-cvre shared-services"}[c.Name]
		if g := release + " " + target; g != want || fullname != release {
			t.Errorf("cluster %s: sealed-secrets release %s, fullnameOverride %v; want %s", c.Name, g, fullname, want)
		}
		if n := len(layers[0].Patches); (c.Name == "prod") != (n > 0) {
			t.Errorf("cluster %s: %d patches on the shared controllers directory", c.Name, n)
		}
	}
}

// TestIngressControllerIdleTimeout: the ingress controller a cluster runs
// waits for a request body and for a client reading the response as long
// as the longest ingress.idleTimeout of the environments behind it; a
// cluster whose environments keep the shared value gets no patch for it.
func TestIngressControllerIdleTimeout(t *testing.T) {
	p := loadPlatform(t)
	for i := range p.Environments {
		e := &p.Environments[i]
		e.Ingress.Exposure = config.ExposureIngress // every cluster runs ingress-nginx
		switch e.Name {
		case "dev":
			e.Cluster, e.Ingress.IdleTimeout = "lab", "10m"
		case "test":
			e.Cluster, e.Ingress.IdleTimeout = "lab", "5m"
		}
	}
	tr, err := Generate(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"lab": "600", "prod": fmt.Sprint(p.Defaults.Ingress.IdleTimeout.Seconds())}
	for _, c := range flux.Clusters(p) {
		layers, err := flux.Layers(p, c)
		if err != nil {
			t.Fatal(err)
		}
		m, err := BuildLayer(tr, layers[0])
		if err != nil {
			t.Fatal(err)
		}
		r, err := m.GetById(resid.NewResIdWithNamespace(resid.NewGvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "ingress-nginx", "flux-system"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := r.Map()
		conf, _, _ := unstructured.NestedMap(got, "spec", "values", "controller", "config")
		if conf["client-body-timeout"] != want[c.Name] || conf["http-snippet"] != "send_timeout "+want[c.Name]+"s;" {
			t.Errorf("cluster %s: controller config %v, want client-body-timeout %s and send_timeout %ss", c.Name, conf, want[c.Name], want[c.Name])
		}
		var patched []string
		for _, pt := range layers[0].Patches {
			patched = append(patched, pt.Target.Kind+"/"+pt.Target.Name)
		}
		if wantPatched := map[string]string{"lab": "[HelmRelease/ingress-nginx]", "prod": "[]"}[c.Name]; fmt.Sprint(patched) != wantPatched {
			t.Errorf("cluster %s: patches %v, want %s", c.Name, patched, wantPatched)
		}
	}
}

// TestNoPlaintextSecretInTheRepository: no file of the repository as Flux
// sees it (generated tree and secrets/) holds a Secret with data, nor a
// PEM private key; only SealedSecrets carry credentials.
func TestNoPlaintextSecretInTheRepository(t *testing.T) {
	tr := repoTree(t)
	leak := func(tr tree.Tree) []string {
		var out []string
		for _, p := range tr.Paths() {
			if strings.Contains(string(tr[p]), "PRIVATE KEY-----") {
				out = append(out, p+": a PEM private key")
			}
			for _, doc := range splitDocs(tr[p]) {
				var d struct {
					Kind       string
					Data       map[string]any
					StringData map[string]any `json:"stringData"`
				}
				if yaml.Unmarshal(doc, &d) == nil && d.Kind == "Secret" && len(d.Data)+len(d.StringData) > 0 {
					out = append(out, p+": a Secret with data")
				}
			}
		}
		return out
	}
	if l := leak(tr); len(l) > 0 {
		t.Errorf("plaintext in the repository:\n%s", strings.Join(l, "\n"))
	}
	// The scan finds what it is looking for.
	bad := tree.Tree{"secrets/dev/x.yaml": []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {password: hunter2}\n"),
		"secrets/dev/k.pem": []byte("-----BEGIN RSA PRIVATE KEY-----\n")}
	if l := leak(bad); len(l) != 2 {
		t.Errorf("the scan missed a planted leak: %v", l)
	}
}

// TestFluxSchemas: every custom object Flux will apply validates against
// the CRD schema of the pinned controller version (generator/crds, the
// API server's own validation): the cluster directories' GitRepository and
// Kustomizations, each infrastructure layer as built for each cluster
// (HelmRepository, HelmRelease, ClusterIssuer), and every SealedSecret.
func TestFluxSchemas(t *testing.T) {
	set, err := crds.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := loadPlatform(t)
	tr := repoTree(t)
	validate := func(where string, doc map[string]any) {
		for _, err := range set.Validate(doc) {
			t.Errorf("%s: %v", where, err)
		}
	}
	kinds := map[string]int{}
	for _, f := range tr.Paths() {
		if !strings.HasPrefix(f, flux.ClustersDir+"/") && !strings.HasPrefix(f, "secrets/") {
			continue
		}
		if !strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, "/kustomization.yaml") {
			continue
		}
		for _, d := range decodeStream(t, tr[f]) {
			kinds[d["kind"].(string)]++
			validate(f, d)
		}
	}
	for _, d := range infrastructureDocs(t, p, tr) {
		kinds[d.Doc["kind"].(string)]++
		validate("cluster "+d.Cluster+", "+d.Layer+": "+key(d.Doc), d.Doc)
	}
	for _, k := range []string{"GitRepository", "Kustomization", "HelmRepository", "HelmRelease", "ClusterIssuer", "SealedSecret"} {
		if kinds[k] == 0 {
			t.Errorf("no %s was validated", k)
		}
	}
	// The validator rejects what the API server would.
	bad := map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "x", "namespace": "flux-system"},
		"spec":     map[string]any{"interval": "5 minutes", "path": "./x", "prune": true, "sourceRef": map[string]any{"kind": "GitRepository", "name": "x"}}}
	if len(set.Validate(bad)) == 0 {
		t.Error("a Kustomization with interval \"5 minutes\" validated")
	}
}

// layerDoc is one object of a cluster's infrastructure layer, as built.
type layerDoc struct {
	Cluster, Layer string
	Doc            map[string]any
}

// infrastructureDocs builds every infrastructure layer of every cluster
// of p in tr (the environments' layers are TestCheckManifests' and
// TestSealedWhereRead's).
func infrastructureDocs(t *testing.T, p *config.Platform, tr tree.Tree) []layerDoc {
	t.Helper()
	var out []layerDoc
	for _, c := range flux.Clusters(p) {
		layers, err := flux.Layers(p, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			if l.Env != "" {
				continue
			}
			m, err := BuildLayer(tr, l)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range m.Resources() {
				d, err := r.Map()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, layerDoc{c.Name, l.Name, d})
			}
		}
	}
	return out
}
