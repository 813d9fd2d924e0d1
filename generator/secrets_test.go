package generator

import (
	"crypto/rand"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/sealing/sealingtest"
	"lbl.gov/invenio-gitops/generator/tree"
)

// secDescription is the fixture's description alone, without the
// digests of its committed secrets/ (these tests seal their own).
func secDescription(t *testing.T) *config.Platform {
	t.Helper()
	p, err := config.Load(filepath.Join(repoRoot, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	secKeyOnce sync.Once
	secKey     sealingtest.KeyPair
)

func secKeyPair(t *testing.T) sealingtest.KeyPair {
	secKeyOnce.Do(func() { secKey = sealingtest.ValidKeyPair(t) })
	return secKey
}

// TestSecretKeys: every key the manifests read, where it is sealed for,
// and who supplies it (the rule of generatedLength).
func TestSecretKeys(t *testing.T) {
	p := secDescription(t)
	for _, e := range p.Environments {
		t.Run(string(e.Name), func(t *testing.T) {
			keys, err := SecretKeys(p, string(e.Name))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Render(p.Site, e, invenio.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv := Inventory(r)
			if len(keys) != len(inv) {
				t.Fatalf("%d keys for %d inventory entries", len(keys), len(inv))
			}
			var got []string
			for i, k := range keys {
				if k.Target.Name != inv[i].Secret || k.Key != inv[i].Key || !cmp.Equal(k.ReadBy, inv[i].ReadBy) {
					t.Errorf("key %d is %s, inventory has %s/%s", i, k, inv[i].Secret, inv[i].Key)
				}
				if k.Target.Namespace != string(e.Namespace) || k.Target.Scope != sealing.Scope(e.Sealing.ScopeOf(k.Target.Name)) {
					t.Errorf("%s is sealed for %s", k, k.Target)
				}
				if k.Target.Labels["app.kubernetes.io/instance"] != string(p.Site.Name) || k.Target.Labels["app.kubernetes.io/name"] != k.Target.Name {
					t.Errorf("%s: labels %v", k, k.Target.Labels)
				}
				who := "operator"
				if k.Generated() {
					who = fmt.Sprint(k.Length)
				}
				got = append(got, k.String()+" "+who)
			}
			want := []string{
				"invenio-app/csrf-secret-salt 64",
				"invenio-app/secret-key 64",
				"invenio-app/security-change-salt 64",
				"invenio-app/security-confirm-salt 64",
				"invenio-app/security-login-salt 64",
				"invenio-app/security-password-salt 64",
				"invenio-app/security-remember-salt 64",
				"invenio-app/security-reset-salt 64",
			}
			if e.Backup.On() {
				want = append(want, "invenio-backup/restic-password 64")
				if e.Backup.Target.IsS3() {
					want = append(want, "invenio-backup/s3-access-key-id operator", "invenio-backup/s3-secret-access-key operator")
				}
			}
			if e.Workloads.PgAdmin.On() {
				want = append(want, "invenio-pgadmin/password 32")
			}
			want = append(want, "invenio-postgresql/password 32", "invenio-rabbitmq/password 32", "invenio-redis/password 32")
			if e.Auth.Mode == config.AuthSAML {
				want = append(want, "invenio-saml/sp.crt operator", "invenio-saml/sp.key operator")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSecretKeyErrors: unknown environments, Secrets and keys are named
// with what exists instead.
func TestSecretKeyErrors(t *testing.T) {
	p := secDescription(t)
	for _, tc := range []struct{ env, secret, key, want string }{
		{"staging", "invenio-app", "secret-key", `no environment "staging" in ` + filepath.Join(repoRoot, "platform.yaml") + ` (it has [dev test prod])`},
		{"dev", "invenio-saml", "sp.key", `no manifest of environment dev reads a Secret "invenio-saml": its Secrets are [invenio-app invenio-backup invenio-pgadmin invenio-postgresql invenio-rabbitmq invenio-redis]`},
		{"prod", "invenio-redis", "passwd", `no manifest of environment prod reads key "passwd" of Secret invenio-redis: its keys are [password]`},
	} {
		_, err := SecretKey(p, tc.env, tc.secret, tc.key)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s %s/%s:\n got %v\nwant %s", tc.env, tc.secret, tc.key, err, tc.want)
		}
	}
	if k, err := SecretKey(p, "prod", "invenio-saml", "sp.key"); err != nil || k.Generated() {
		t.Errorf("prod invenio-saml/sp.key: %+v, %v", k, err)
	}
}

// TestGeneratedLengthRule: the one rule for who supplies a key, including
// for Secrets renamed in the description and keys nobody knows yet.
func TestGeneratedLengthRule(t *testing.T) {
	e := secDescription(t).Environments[0]
	e.Secrets.App, e.Secrets.SAML = "site-app", "site-saml"
	for _, tc := range []struct {
		secret, key string
		want        int
	}{
		{"site-app", "secret-key", AppSecretLength},
		{"site-app", "some-new-salt", AppSecretLength},
		{"invenio-postgresql", "password", PasswordLength},
		{"anything", "password", PasswordLength},
		{"site-saml", "sp.key", 0},
		{"site-saml", "sp.crt", 0},
		{"site-saml", "password", 0},
		{"backup", "access-key", 0},
	} {
		if got := generatedLength(e, tc.secret, tc.key); got != tc.want {
			t.Errorf("%s/%s: %d, want %d", tc.secret, tc.key, got, tc.want)
		}
	}
}

// secSeal seals a value for every key of env (each value names its key:
// "TEST-PLAINTEXT-<secret>-<key>") into secrets/<env>/ of tr, with the
// code the secrets commands use.
func secSeal(t *testing.T, p *config.Platform, env string, tr tree.Tree, kp sealingtest.KeyPair) map[string]string {
	t.Helper()
	keys, err := SecretKeys(p, env)
	if err != nil {
		t.Fatal(err)
	}
	plain := map[string]string{}
	d := sealing.Dir{Cert: kp.CertPEM, Sealed: map[string]*ssv1alpha1.SealedSecret{}}
	for _, k := range keys {
		v := "TEST-PLAINTEXT-" + k.Target.Name + "-" + k.Key
		plain[k.String()] = v
		ss, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, d.Sealed[k.Target.Name], k.Target, map[string][]byte{k.Key: []byte(v)})
		if err != nil {
			t.Fatal(err)
		}
		d.Sealed[k.Target.Name] = ss
	}
	files, err := d.Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		tr[path.Join(SecretsDir(env), name)] = b
	}
	return plain
}

// secFluxLayers are the Flux Kustomizations of the generated tree that
// apply env's directories (overlays/<env>/… and secrets/<env>).
func secFluxLayers(t *testing.T, tr tree.Tree, env string) []*kustomizev1.Kustomization {
	t.Helper()
	var out []*kustomizev1.Kustomization
	for _, p := range tr.Paths() {
		if !strings.HasPrefix(p, "clusters/") || !strings.HasSuffix(p, ".yaml") {
			continue
		}
		for _, doc := range strings.Split(string(tr[p]), "\n---\n") {
			var tm struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if tm.APIVersion != kustomizev1.GroupVersion.String() || tm.Kind != kustomizev1.KustomizationKind {
				continue
			}
			var k kustomizev1.Kustomization
			if err := yaml.UnmarshalStrict([]byte(doc), &k); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			path := strings.TrimPrefix(k.Spec.Path, "./")
			if path == SecretsDir(env) || strings.HasPrefix(path, "overlays/"+env+"/") {
				out = append(out, &k)
			}
		}
	}
	return out
}

// secFluxBuild builds what the Flux Kustomization k applies: its path with
// the transformations kustomize-controller adds (targetNamespace,
// namePrefix, nameSuffix, patches), through a kustomization around it as
// the controller generates one.
func secFluxBuild(t *testing.T, tr tree.Tree, k *kustomizev1.Kustomization) (string, resmap.ResMap) {
	t.Helper()
	path := strings.TrimPrefix(k.Spec.Path, "./")
	wrap := &types.Kustomization{
		TypeMeta:   types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources:  []string{"../../" + path},
		Namespace:  k.Spec.TargetNamespace,
		NamePrefix: k.Spec.NamePrefix,
		NameSuffix: k.Spec.NameSuffix,
	}
	for _, p := range k.Spec.Patches {
		tp := types.Patch{Patch: p.Patch}
		if p.Target != nil {
			tp.Target = &types.Selector{ResId: resid.ResId{Gvk: resid.Gvk{Group: p.Target.Group, Version: p.Target.Version, Kind: p.Target.Kind}, Name: p.Target.Name, Namespace: p.Target.Namespace},
				AnnotationSelector: p.Target.AnnotationSelector, LabelSelector: p.Target.LabelSelector}
		}
		wrap.Patches = append(wrap.Patches, tp)
	}
	b, err := tree.MarshalObjects(wrap)
	if err != nil {
		t.Fatal(err)
	}
	dir := "flux-sim/" + k.Name
	withWrap := tree.Tree{dir + "/kustomization.yaml": b}
	for p, c := range tr {
		withWrap[p] = c
	}
	m, err := Build(withWrap, dir)
	if err != nil {
		t.Fatalf("Flux Kustomization %s (%s): %v", k.Name, path, err)
	}
	return "Flux Kustomization " + k.Name, m
}

// sealedWhereRead builds env the ways it reaches a cluster — as Flux
// applies it (each of env's Flux Kustomizations), and as
// `platformctl build` shows it (overlays/<env>, when that includes the
// SealedSecrets) — and lists, per view, every Secret a workload reads that
// the controller would not create where it is read with the keys read: no
// SealedSecret of that name in that namespace, one that does not decrypt
// there (sealed for another name or namespace), or one without a key read.
// fluxEdit, if not nil, changes the Flux Kustomizations first.
func sealedWhereRead(t *testing.T, tr tree.Tree, env string, kp sealingtest.KeyPair, fluxEdit func(*kustomizev1.Kustomization)) []string {
	t.Helper()
	type built struct {
		name string
		m    resmap.ResMap
	}
	var flux []built
	layers := secFluxLayers(t, tr, env)
	if len(layers) == 0 {
		t.Fatalf("no Flux Kustomization applies environment %s", env)
	}
	for _, k := range layers {
		if fluxEdit != nil {
			fluxEdit(k)
		}
		name, m := secFluxBuild(t, tr, k)
		flux = append(flux, built{name, m})
	}
	whole, err := Build(tr, "overlays/"+env)
	if err != nil {
		t.Fatalf("building overlays/%s: %v", env, err)
	}
	views := [][]built{flux}
	for _, r := range whole.Resources() {
		if r.GetKind() == "SealedSecret" {
			views = append(views, []built{{"overlays/" + env, whole}})
			break
		}
	}
	var problems []string
	for _, view := range views {
		problems = append(problems, secProblems(t, view[0].name, func(f func(string, resmap.ResMap)) {
			for _, b := range view {
				f(b.name, b.m)
			}
		}, kp)...)
	}
	return problems
}

// secProblems checks one view of an environment (see sealedWhereRead).
func secProblems(t *testing.T, view string, each func(func(string, resmap.ResMap)), kp sealingtest.KeyPair) []string {
	t.Helper()
	if strings.HasPrefix(view, "Flux") {
		view = "Flux"
	}
	type ref struct{ ns, name string }
	reads := map[ref]map[string][]string{} // Secret → key → readers
	sealed := map[ref]*ssv1alpha1.SealedSecret{}
	var problems []string
	each(func(from string, m resmap.ResMap) {
		for _, r := range m.Resources() {
			switch r.GetKind() {
			case "Secret":
				problems = append(problems, fmt.Sprintf("%s: %s applies a plain Secret %s/%s", view, from, r.GetNamespace(), r.GetName()))
			case "SealedSecret":
				y, err := r.AsYAML()
				if err != nil {
					t.Fatal(err)
				}
				ss, err := sealing.Unmarshal(y)
				if err != nil {
					t.Fatalf("%s: SealedSecret %s: %v", from, r.GetName(), err)
				}
				at := ref{ss.Namespace, ss.Name}
				if prev, dup := sealed[at]; dup && !cmp.Equal(prev, ss) {
					problems = append(problems, fmt.Sprintf("%s: SealedSecret %s/%s is applied twice, differently", view, at.ns, at.name))
				}
				sealed[at] = ss
			case "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod":
				by := r.GetKind() + "/" + r.GetName()
				doc, err := r.Map()
				if err != nil {
					t.Fatal(err)
				}
				walk(doc, func(m map[string]any) {
					add := func(name, key any) {
						at := ref{r.GetNamespace(), fmt.Sprint(name)}
						if reads[at] == nil {
							reads[at] = map[string][]string{}
						}
						reads[at][fmt.Sprint(key)] = append(reads[at][fmt.Sprint(key)], by)
					}
					if s, ok := m["secretKeyRef"].(map[string]any); ok {
						add(s["name"], s["key"])
					}
					if s, ok := m["secretRef"].(map[string]any); ok {
						add(s["name"], "*")
					}
					if s, ok := m["secret"].(map[string]any); ok {
						name := s["secretName"]
						if name == nil {
							name = s["name"] // a projected volume's source
						}
						items, _ := s["items"].([]any)
						for _, it := range items {
							add(name, it.(map[string]any)["key"])
						}
						if len(items) == 0 {
							add(name, "*")
						}
					}
				})
			}
		}
	})
	var ats []ref
	for at := range reads {
		ats = append(ats, at)
	}
	sort.Slice(ats, func(i, j int) bool { return ats[i].ns+"/"+ats[i].name < ats[j].ns+"/"+ats[j].name })
	for _, at := range ats {
		readers := map[string]bool{}
		for _, by := range reads[at] {
			for _, b := range by {
				readers[b] = true
			}
		}
		who := strings.Join(secSorted(readers), ", ")
		ss := sealed[at]
		if ss == nil {
			problems = append(problems, fmt.Sprintf("%s: %s read Secret %s/%s, but no SealedSecret %s/%s is applied", view, who, at.ns, at.name, at.ns, at.name))
			continue
		}
		secret, err := sealingtest.Unseal(t, ss, kp)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s read Secret %s/%s, but its SealedSecret does not decrypt there: %v", view, who, at.ns, at.name, err))
			continue
		}
		for _, key := range secSorted(secKeys(reads[at])) {
			if _, ok := secret.Data[key]; !ok {
				problems = append(problems, fmt.Sprintf("%s: %s read key %s of Secret %s/%s, which is not sealed", view, who, key, at.ns, at.name))
			}
		}
	}
	return problems
}

func secKeys(m map[string][]string) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func secSorted(m map[string]bool) []string {
	var l []string
	for k := range m {
		l = append(l, k)
	}
	sort.Strings(l)
	return l
}

// TestSealedWhereRead builds every environment with its SealedSecrets as
// Flux applies them, and requires every Secret a workload reads to be
// created by the controller in the workload's namespace, under the name the
// workload reads, holding every key it reads: what SecretKeys seals for is
// where the manifests read. The mutations show the check catches a name
// prefix or a namespace added by an overlay, which break strict-scope
// decryption ("no key could decrypt secret").
func TestSealedWhereRead(t *testing.T) {
	p := secDescription(t)
	kp := secKeyPair(t)
	base, err := Generate(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Environments {
		env := string(e.Name)
		t.Run(env, func(t *testing.T) {
			tr := tree.Tree{}
			for k, v := range base {
				tr[k] = v
			}
			plain := secSeal(t, p, env, tr, kp)
			if problems := sealedWhereRead(t, tr, env, kp, nil); len(problems) > 0 {
				t.Errorf("sealed where it is not read:\n%s", strings.Join(problems, "\n"))
			}
			// No plaintext anywhere: not in the files, not in the builds.
			built, err := BuildYAML(tr, "overlays/"+env)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range plain {
				for _, p := range tr.Paths() {
					if strings.Contains(string(tr[p]), v) {
						t.Errorf("%s holds the plaintext of a sealed value", p)
					}
				}
				if strings.Contains(string(built), v) {
					t.Errorf("the build of overlays/%s holds the plaintext of a sealed value", env)
				}
			}
		})
	}

	t.Run("mutations", func(t *testing.T) {
		const env = "dev"
		sealedTree := func() tree.Tree {
			tr := tree.Tree{}
			for k, v := range base {
				tr[k] = v
			}
			secSeal(t, p, env, tr, kp)
			return tr
		}
		appReaders := "Deployment/beat, Deployment/web-api, Deployment/web-ui, Deployment/worker, Job/invenio-setup"
		for _, tc := range []struct {
			name, file, add string
			flux            func(*kustomizev1.Kustomization)
			want            string // one of the problems; "": none
		}{
			{name: "namePrefix on overlays/dev", file: "overlays/dev/kustomization.yaml", add: "namePrefix: x-\n",
				want: "overlays/dev: Deployment/x-beat, Deployment/x-web-api, Deployment/x-web-ui, Deployment/x-worker, Job/x-invenio-setup read Secret invenio-dev/invenio-app, but no SealedSecret invenio-dev/invenio-app is applied"},
			{name: "namespace on secrets/dev", file: "secrets/dev/kustomization.yaml", add: "namespace: invenio-test\n",
				want: "Flux: " + appReaders + " read Secret invenio-dev/invenio-app, but no SealedSecret invenio-dev/invenio-app is applied"},
			{name: "namePrefix on secrets/dev", file: "secrets/dev/kustomization.yaml", add: "namePrefix: x-\n",
				want: "Flux: " + appReaders + " read Secret invenio-dev/invenio-app, but no SealedSecret invenio-dev/invenio-app is applied"},
			{name: "targetNamespace on Flux's dev-secrets", flux: func(k *kustomizev1.Kustomization) {
				if k.Name == "dev-secrets" {
					k.Spec.TargetNamespace = "invenio-test"
				}
			}, want: "Flux: " + appReaders + " read Secret invenio-dev/invenio-app, but no SealedSecret invenio-dev/invenio-app is applied"},
			{name: "namePrefix on Flux's dev-secrets", flux: func(k *kustomizev1.Kustomization) {
				if k.Name == "dev-secrets" {
					k.Spec.NamePrefix = "x-"
				}
			}, want: "Flux: " + appReaders + " read Secret invenio-dev/invenio-app, but no SealedSecret invenio-dev/invenio-app is applied"},
			// Renaming the readers does not rename the Secrets they read.
			{name: "namePrefix on Flux's dev-app", flux: func(k *kustomizev1.Kustomization) {
				if k.Name == "dev-app" {
					k.Spec.NamePrefix = "x-"
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tr := sealedTree()
				if tc.file != "" {
					if _, ok := tr[tc.file]; !ok {
						t.Fatalf("no %s", tc.file)
					}
					tr[tc.file] = append(append([]byte(nil), tr[tc.file]...), tc.add...)
				}
				problems := sealedWhereRead(t, tr, env, kp, tc.flux)
				if tc.want == "" {
					if len(problems) > 0 {
						t.Errorf("problems:\n%s", strings.Join(problems, "\n"))
					}
					return
				}
				if !secContains(problems, tc.want) {
					t.Errorf("the problems do not include\n%s\ngot:\n%s", tc.want, strings.Join(problems, "\n"))
				}
			})
		}
		// A SealedSecret sealed for another name and renamed by hand to the
		// one the workloads read does not decrypt: strict scope binds its
		// values to where they were sealed.
		t.Run("renamed after sealing", func(t *testing.T) {
			tr := sealedTree()
			other, err := sealing.Seal(rand.Reader, &kp.Key.PublicKey, nil, sealing.Target{Name: "invenio-cache", Namespace: "invenio-dev"}, map[string][]byte{"password": []byte("TEST-PLAINTEXT")})
			if err != nil {
				t.Fatal(err)
			}
			other.Name, other.Spec.Template.Name = "invenio-redis", "invenio-redis"
			b, err := sealing.Marshal(other)
			if err != nil {
				t.Fatal(err)
			}
			tr["secrets/dev/invenio-redis.yaml"] = b
			problems := sealedWhereRead(t, tr, env, kp, nil)
			var want []string
			for _, view := range []string{"Flux", "overlays/dev"} {
				want = append(want, view+": "+appReaders+", StatefulSet/redis read Secret invenio-dev/invenio-redis, but its SealedSecret does not decrypt there: no key could decrypt secret (password)")
			}
			if diff := cmp.Diff(want, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	})
}

func secContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestCheckSecretsNamesTheMissingKey: with one referenced key unsealed,
// the check names exactly that key.
func TestCheckSecretsNamesTheMissingKey(t *testing.T) {
	p := secDescription(t)
	kp := secKeyPair(t)
	tr := tree.Tree{}
	secSeal(t, p, "prod", tr, kp)
	dir := t.TempDir()
	files := map[string][]byte{}
	for k, v := range tr {
		files[path.Base(k)] = v
	}
	if _, err := sealing.WriteDir(dir, files); err != nil {
		t.Fatal(err)
	}
	d, err := sealing.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckSecrets(p, "prod", d.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || len(r.Unreferenced) > 0 {
		t.Fatalf("everything sealed: %+v", r)
	}
	delete(d.Sealed["invenio-saml"].Spec.EncryptedData, "sp.key")
	d.Sealed["invenio-app"].Spec.EncryptedData["old-salt"] = "AAAA"
	r, err = CheckSecrets(p, "prod", d.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err == nil || err.Error() != "not sealed: invenio-saml/sp.key" {
		t.Errorf("got %v", err)
	}
	if diff := cmp.Diff([]string{"invenio-app/old-salt"}, r.Unreferenced); diff != "" {
		t.Errorf("unreferenced (-want +got):\n%s", diff)
	}
}

// TestSealingCertificateMismatches: environments of one cluster whose
// certificates hold different keys are a warning naming both and the
// commands; the same key (also re-issued later), other clusters, and
// environments without a certificate are not.
func TestSealingCertificateMismatches(t *testing.T) {
	a, b := sealingtest.ValidKeyPair(t), sealingtest.ValidKeyPair(t)
	aLater := sealingtest.CertPEM(t, &a.Key.PublicKey, a.Key, time.Now(), time.Now().Add(time.Hour))
	p := &config.Platform{Environments: []config.Environment{
		{Name: "dev", Cluster: "lab"}, {Name: "test", Cluster: "lab"}, {Name: "prod", Cluster: "prod"},
	}}
	cert := func(env string) string { return path.Join("secrets", env, sealing.CertFile) }
	for _, tc := range []struct {
		name   string
		sealed tree.Tree
		want   []string // substrings of the one warning; nil for none
	}{
		{"same key", tree.Tree{cert("dev"): a.CertPEM, cert("test"): a.CertPEM, cert("prod"): b.CertPEM}, nil},
		{"same key, certificate issued again", tree.Tree{cert("dev"): a.CertPEM, cert("test"): aLater}, nil},
		{"one without a certificate", tree.Tree{cert("dev"): a.CertPEM}, nil},
		{"different keys in one cluster", tree.Tree{cert("dev"): a.CertPEM, cert("test"): b.CertPEM, cert("prod"): a.CertPEM},
			[]string{"environments dev and test share cluster lab", sealing.Fingerprint(&a.Key.PublicKey), sealing.Fingerprint(&b.Key.PublicKey),
				"`platformctl secrets fetch-cert dev`", "`platformctl secrets fetch-cert test`", "platformctl secrets reencrypt <env>", "platformctl secrets rotate <env> <secret>/<key>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SealingCertificateMismatches(p, tc.sealed)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("want no warning, got %q", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("want one warning, got %q", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got[0], w) {
					t.Errorf("warning lacks %q:\n%s", w, got[0])
				}
			}
		})
	}
}
