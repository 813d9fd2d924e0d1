package generator

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"lbl.gov/invenio-gitops/generator/check"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/tree"
)

// DecodeCheck is the check ID of a built document that does not decode
// strictly into its k8s.io/api type (check.Decode): the other checks need
// typed objects, so it is reported as a finding of its own.
const DecodeCheck = "strict-decode"

// CheckEnvironment runs the manifest checks (package check; only those
// whose ID or family is in only, when it is not empty) on kustomize's
// build of overlays/<env> in t, the repository as Flux sees it (generated
// tree with secrets/). Each result names the file of t that defines its
// object. Errors: an unknown environment, a build kustomize refuses, a
// build with no pod template, Service, NetworkPolicy or ServiceAccount
// (every check would pass vacuously).
func CheckEnvironment(p *config.Platform, t tree.Tree, env string, only ...string) (check.Report, error) {
	e, err := Environment(p, env)
	if err != nil {
		return check.Report{}, err
	}
	built, err := BuildYAML(t, "overlays/"+env)
	if err != nil {
		return check.Report{}, fmt.Errorf("kustomize cannot build overlays/%s, so nothing was checked: %w", env, err)
	}
	b, errs := check.Load(env, built)
	b.ListedSecrets = map[string]bool{}
	for _, s := range e.Secrets.Names() {
		b.ListedSecrets[s] = true
	}
	var r check.Report
	if len(errs) == 0 {
		if len(b.Pods) == 0 || len(b.Services) == 0 || len(b.NetworkPolicies) == 0 || len(b.ServiceAccounts) == 0 {
			return check.Report{}, fmt.Errorf("the build of overlays/%s has %d pod templates, %d Services, %d NetworkPolicies, %d ServiceAccounts: every check would pass vacuously",
				env, len(b.Pods), len(b.Services), len(b.NetworkPolicies), len(b.ServiceAccounts))
		}
		r = check.Run(b, only...)
	} else {
		r.UsedDeviations = map[int]bool{}
		r.Ran = 1 // strict decoding only: the other checks need typed objects
	}
	for _, err := range errs {
		object := "overlays/" + env
		var de *check.DecodeError
		if errors.As(err, &de) && de.Object != "" {
			object = de.Object
			err = de.Err
		}
		r.Findings = append(r.Findings, check.Result{Env: env, Check: DecodeCheck, Family: "references", Object: object,
			Detail: err.Error() + " (the other checks need typed objects and did not run)"})
	}
	files, patches := definingFiles(t, env)
	for _, rs := range [][]check.Result{r.Findings, r.Accepted} {
		for i := range rs {
			rs[i].File = files[rs[i].Object]
			rs[i].Patches = patches[rs[i].Object]
		}
	}
	return r, nil
}

// definingFiles maps Kind/name to the file of t that defines the object
// for env (base/ first, then overlays/<env>/ and secrets/<env>/) and to
// the patch files that change it in env's build: those of overlays/<env>/
// and of the base components env's overlay names.
func definingFiles(t tree.Tree, env string) (files map[string]string, patches map[string][]string) {
	files, patches = map[string]string{}, map[string][]string{}
	var kustomizations strings.Builder
	for _, path := range t.Under("overlays/" + env).Paths() {
		if strings.HasSuffix(path, "kustomization.yaml") {
			kustomizations.Write(t["overlays/"+env+"/"+path])
		}
	}
	for _, path := range t.Paths() {
		if !(strings.HasPrefix(path, "base/") || strings.HasPrefix(path, "overlays/"+env+"/") || strings.HasPrefix(path, "secrets/"+env+"/")) ||
			!strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, "/kustomization.yaml") {
			continue
		}
		patch := strings.Contains(path, "/patches/")
		if component, ok := strings.CutPrefix(path, "base/components/"); ok && patch {
			name, _, _ := strings.Cut(component, "/")
			if !strings.Contains(kustomizations.String(), "base/components/"+name+"\n") {
				continue // a component env does not use
			}
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(t[path])))
		for {
			doc, err := r.Read()
			if err == io.EOF || err != nil {
				break
			}
			ref := check.ObjectOf(doc)
			if ref == "" {
				continue
			}
			switch {
			case patch:
				patches[ref] = append(patches[ref], path)
			case files[ref] == "":
				files[ref] = path
			}
		}
	}
	return files, patches
}
