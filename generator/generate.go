// Package generator turns a platform description into the GitOps
// repository: it renders every environment from the component builders,
// derives the overlays from the renderings, and builds overlays with
// kustomize in-process. It does no I/O; cmd/ reads the description and
// hands the tree to tree.Write.
package generator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	"golang.org/x/sync/errgroup"

	"lbl.gov/invenio-gitops/generator/component"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/generator/monitoring"
	"lbl.gov/invenio-gitops/generator/network"
	"lbl.gov/invenio-gitops/generator/overlay"
	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/tree"
)

// Owned is what the generator owns: every file below these directories
// comes from Generate, and any other file there is removed, except in the
// flux-system/ directory `flux bootstrap` writes into each cluster's
// directory. secrets/ belongs to the `secrets` commands.
var Owned = tree.Owned{
	Roots:  []string{"base", "overlays", flux.ClustersDir},
	Except: []string{flux.ClustersDir + "/*/" + flux.BootstrapDir},
}

// Components builds and completes the components of one environment,
// rendered with o (invenio.Options: sealed digests, optional parts).
func Components(site config.Site, e config.Environment, o invenio.Options) ([]*component.Component, error) {
	cs := invenio.Components(site, e, o)
	meta := component.Meta{Instance: string(site.Name), PartOf: string(site.PartOf), ManagedBy: string(site.ManagedBy), Namespace: string(e.Namespace)}
	opt := network.Options{Edges: Edges(e)}
	mon := monitoring.Options{SelectorLabels: e.Monitoring.SelectorLabels, Interval: string(e.Monitoring.Interval)}
	if e.Monitoring.Enabled {
		opt.Prometheus = &network.Peer{Namespace: string(e.Monitoring.PrometheusNamespace), Labels: e.Monitoring.PrometheusLabels}
		cs = append(cs, monitoring.AlertsComponent(meta, mon, string(e.Namespace)))
	}
	if err := network.Derive(meta, opt, cs); err != nil {
		return nil, fmt.Errorf("environment %s: %w", e.Name, err)
	}
	if err := monitoring.Derive(meta, mon, cs); err != nil {
		return nil, fmt.Errorf("environment %s: %w", e.Name, err)
	}
	return cs, nil
}

// Edges are what receives e's traffic from outside and passes it to the
// frontend (and, during an HTTP-01 challenge, to cert-manager's solver):
// the ingress controller, the Gateway API implementation's proxies, or
// both while an environment migrates. The proxies of the Envoy Gateway
// the generator installs carry the namespace and name of the Gateway they
// serve, so only this environment's own Gateway is let in.
func Edges(e config.Environment) []network.Peer {
	var out []network.Peer
	if e.Ingress.Exposure.Ingress() {
		out = append(out, network.Peer{Namespace: string(e.Ingress.ControllerNamespace), Labels: e.Ingress.ControllerLabels})
	}
	if e.Ingress.Exposure.Gateway() {
		g := e.Ingress.Gateway
		labels := maps.Clone(g.DataPlaneLabels)
		if g.ClassName == config.EnvoyGatewayClass {
			if labels == nil {
				labels = map[string]string{}
			}
			labels["gateway.envoyproxy.io/owning-gateway-namespace"] = string(e.Namespace)
			labels["gateway.envoyproxy.io/owning-gateway-name"] = invenio.ExposureName
		}
		out = append(out, network.Peer{Namespace: string(g.DataPlaneNamespace), Labels: labels})
	}
	if e.Ingress.Exposure.Route() {
		r := e.Ingress.Route
		out = append(out, network.Peer{Namespace: config.OpenShiftRouterNamespace, NamespaceLabels: r.RouterNamespaceLabels})
	}
	return out
}

// Render is every object of one environment, as it must be on the cluster,
// rendered with o.
func Render(site config.Site, e config.Environment, o invenio.Options) (overlay.Rendering, error) {
	cs, err := Components(site, e, o)
	if err != nil {
		return nil, err
	}
	var r overlay.Rendering
	for _, c := range cs {
		for _, o := range c.Objects {
			d, err := tree.ToDoc(o)
			if err != nil {
				return nil, err
			}
			r = append(r, overlay.Object{Layer: c.Layer, Component: c.Name, Doc: d})
		}
	}
	return r, nil
}

// renderOptional renders be with the optional components in on switched
// on and all others off (invenio.SetOptional).
func renderOptional(site config.Site, be config.Environment, on map[string]bool) (overlay.Rendering, error) {
	e, o := invenio.SetOptional(be, on)
	return Render(site, e, o)
}

// baseEnvironment is what base/ is rendered from: the defaults, with
// placeholders where only environments can say (namespace, host).
func baseEnvironment(p *config.Platform) config.Environment {
	e := p.Defaults
	e.Name = "base"
	if e.Namespace == "" {
		e.Namespace = p.Site.Name
	}
	if e.Host == "" {
		e.Host = config.DNSName(string(p.Site.Name) + ".example.org")
	}
	return e
}

// Environment returns the named environment of p.
func Environment(p *config.Platform, name string) (config.Environment, error) {
	var names []string
	for _, e := range p.Environments {
		if string(e.Name) == name {
			return e, nil
		}
		names = append(names, string(e.Name))
	}
	return config.Environment{}, fmt.Errorf("no environment %q in %s (it has %v)", name, p.File, names)
}

func enabledList(on map[string]bool) []string {
	var l []string
	for n, ok := range on {
		if ok {
			l = append(l, n)
		}
	}
	sort.Strings(l)
	return l
}

// Generate computes the whole repository tree for p. sealed is the
// secrets/ files ReadSealed returned (nil for none): pod templates carry a
// checksum of the sealed Secrets they read.
func Generate(p *config.Platform, sealed tree.Tree) (tree.Tree, error) {
	be := baseEnvironment(p)
	base, err := renderOptional(p.Site, be, nil)
	if err != nil {
		return nil, err
	}
	in := overlay.Input{Base: base, Components: map[string]overlay.Rendering{}, Optional: map[string]component.Layer{}}
	all := map[string]bool{}
	for _, n := range invenio.OptionalNames {
		all[n] = true
	}
	be1, o1 := invenio.SetOptional(be, all)
	everything, err := Components(p.Site, be1, o1)
	if err != nil {
		return nil, err
	}
	for _, c := range everything {
		if c.Optional {
			in.Optional[c.Name] = c.Layer
		}
	}
	// Every rendering is independent of the others: on every core.
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	// The first error in the sequential order is the one returned.
	optional := make([]overlay.Rendering, len(invenio.OptionalNames))
	envs := make([]overlay.Env, len(p.Environments))
	errs := make([]error, len(optional)+len(envs))
	// base/components/<name> only for what some environment switches on:
	// a part switched off everywhere leaves no trace in the tree.
	used := map[string]bool{}
	for _, e := range p.Environments {
		for n, on := range invenio.Enabled(e) {
			used[n] = used[n] || on
		}
	}
	for i, n := range invenio.OptionalNames {
		if !used[n] {
			continue
		}
		g.Go(func() error {
			optional[i], errs[i] = renderOptional(p.Site, be, map[string]bool{n: true})
			return nil
		})
	}
	for i, e := range p.Environments {
		g.Go(func() error {
			envs[i], errs[len(optional)+i] = renderEnv(p.Site, be, e, SealedDigests(sealed, e.Name))
			return nil
		})
	}
	g.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for i, n := range invenio.OptionalNames {
		if used[n] {
			in.Components[n] = optional[i]
		}
	}
	in.Envs = envs
	t, err := overlay.Files(in)
	if err != nil {
		return nil, err
	}
	gitops, err := flux.Files(p)
	if err != nil {
		return nil, err
	}
	for path, b := range gitops {
		if _, dup := t[path]; dup {
			return nil, fmt.Errorf("generate: %s is written twice", path)
		}
		t[path] = b
	}
	return t, nil
}

// renderEnv renders environment e as its overlay needs it: the model
// (what e runs) and the reference (base with e's optional parts on).
func renderEnv(site config.Site, be, e config.Environment, sealed map[string]string) (overlay.Env, error) {
	model, err := Render(site, e, invenio.Options{Sealed: sealed})
	if err != nil {
		return overlay.Env{}, err
	}
	on := invenio.Enabled(e)
	ref, err := renderOptional(site, be, on)
	if err != nil {
		return overlay.Env{}, err
	}
	return overlay.Env{Name: string(e.Name), Namespace: string(e.Namespace), Enabled: enabledList(on), Model: model, Reference: ref}, nil
}

// ReadSealed reads secrets/<env>/ below dir for every environment of p
// and returns the files, so that the generator (SealedDigests), builds and
// checks see the repository as Flux will. A missing directory is not an
// error here; the checks report what it lacks.
func ReadSealed(p *config.Platform, dir string) (tree.Tree, error) {
	out := tree.Tree{}
	for i := range p.Environments {
		e := &p.Environments[i]
		rel := path.Join("secrets", string(e.Name))
		entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, de := range entries {
			if de.IsDir() {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel), de.Name()))
			if err != nil {
				return nil, err
			}
			out[path.Join(rel, de.Name())] = b
		}
	}
	return out, nil
}

// StraySecretsDirs is each directory secrets/<name>/ in the repository at
// dir whose name is no environment of p (one removed or renamed): its
// sealed values reach no cluster, and nothing else says so. Errors: the
// directory cannot be read (a missing secrets/ is none).
func StraySecretsDirs(p *config.Platform, dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "secrets"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range entries {
		if !de.IsDir() {
			continue
		}
		if _, err := Environment(p, de.Name()); err != nil {
			out = append(out, SecretsDir(de.Name()))
		}
	}
	return out, nil
}

// StrayWarning is what generate and secrets check say of a stray
// secrets/<name>/ directory (StraySecretsDirs).
func StrayWarning(dir string) string {
	return fmt.Sprintf("%s/ belongs to no environment of the description (one removed or renamed): its sealed values reach no cluster; `git rm -r %s` once they are not needed", dir, dir)
}

// SealedDigests maps each Secret of environment env that sealed (the
// files ReadSealed returned) holds to the SHA-256 (hex) of its file
// secrets/<env>/<secret>.yaml; nil when sealed has no file for env.
func SealedDigests(sealed tree.Tree, env config.DNSLabel) map[string]string {
	var out map[string]string
	dir := path.Join("secrets", string(env)) + "/"
	for p, b := range sealed {
		rest, ok := strings.CutPrefix(p, dir)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		if name, ok := sealing.SecretOfFile(rest); ok {
			sum := sha256.Sum256(b)
			out[name] = hex.EncodeToString(sum[:])
		}
	}
	return out
}

// GenerateChecked is Generate followed by CheckGenerated: the generated
// files (the ones the generator writes) and the checks' warnings.
func GenerateChecked(p *config.Platform, sealed tree.Tree, b *Builds) (tree.Tree, []string, error) {
	Warm() // beside Generate
	t, err := Generate(p, sealed)
	if err != nil {
		return nil, nil, err
	}
	warnings, err := CheckGenerated(p, t, sealed, b)
	if err != nil {
		return nil, nil, err
	}
	return t, warnings, nil
}

// CheckGenerated runs the checks that need the whole repository on t, as
// Generate made it from p, plus sealed, the secrets/ files ReadSealed
// returned: every key the manifests read is sealed for its environment
// (CheckSecrets), and the Flux wiring of every cluster holds
// (CheckGitOps). It returns warnings (sealed keys nobody reads,
// environments of one cluster with different sealing keys:
// SealingCertificateMismatches). Builds go
// through b (a memo of its own when nil), so a caller that renders the
// same tree afterwards (the comparison with the tree on disk) reuses them.
func CheckGenerated(p *config.Platform, t, sealed tree.Tree, b *Builds) ([]string, error) {
	if b == nil {
		b = NewBuilds()
	}
	var errs []error
	var warnings []string
	for _, e := range p.Environments {
		env := string(e.Name)
		objs := map[string]*ssv1alpha1.SealedSecret{}
		for _, f := range sealed.Under(SecretsDir(env)).Paths() {
			name, ok := sealing.SecretOfFile(f)
			if !ok {
				continue
			}
			ss, err := sealing.Unmarshal(sealed[path.Join(SecretsDir(env), f)])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", SecretsDir(env), f, err))
				continue
			}
			objs[name] = ss
		}
		r, err := CheckSecrets(p, env, objs)
		if err != nil {
			return nil, err
		}
		if err := r.Err(); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %v (see `platformctl secrets check %s`)", env, err, env))
		}
		for _, u := range r.Unreferenced {
			warnings = append(warnings, fmt.Sprintf("environment %s: %s is sealed but no manifest reads it (`platformctl secrets prune %s` removes it)", env, u, env))
		}
	}
	warnings = append(warnings, SealingCertificateMismatches(p, sealed)...)
	if err := CheckSealedLists(p.Environments, sealed); err != nil {
		// The GitOps check would fail on the same file, in kustomize's
		// words.
		errs = append(errs, err)
	} else if _, err := checkGitOps(p, b.Repo(t.With(sealed))); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return warnings, nil
}
