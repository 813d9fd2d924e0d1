package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/check"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/review"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/gitrev"
)

const checkUsage = `usage: platformctl check [<env>...] [--check <id|family>]... [--output text|json] [--accepted] [-f platform.yaml] [-C dir]

Runs the manifest checks (docs/manifest-checks.md: Pod Security Standards
restricted, references, secrets, workloads, availability, network, RBAC,
labels) on the kustomize build of overlays/<env> as it is in the
repository (what Flux applies, hand edits included), for each environment
named (every environment when none is). Generated files that differ from
what the description gives are checked as they are, with a warning on
standard error (run platformctl generate). Each finding
names the environment, the generated file that defines the object, the
object, the check and what is wrong. A deliberate deviation
(check.Deviations) is accepted, not reported; --accepted lists those too.

Exit status: 0 no finding; 1 a finding; 2 an error (a bad description,
flag or environment, a build kustomize refuses).
`

// checkOutput is check --output json: one entry per environment.
type checkOutput struct {
	Environments []checkEnvOutput `json:"environments"`
}

type checkEnvOutput struct {
	Environment string         `json:"environment"`
	Checks      int            `json:"checks"`
	Findings    []check.Result `json:"findings"`
	Accepted    []check.Result `json:"accepted"`
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	fail := func(err error) error { return &exitError{code: 2, err: err} }
	fs, r := newFlags("check")
	var only []string
	fs.Func("check", "run only this check `id` or family (repeatable, or comma-separated)", func(v string) error {
		for _, c := range strings.Split(v, ",") {
			if !knownCheck(c) {
				return fmt.Errorf("no check or family %q (families: %s; checks: docs/manifest-checks.md)", c, strings.Join(check.Families, ", "))
			}
			only = append(only, c)
		}
		return nil
	})
	output := fs.String("output", "text", "text or json")
	accepted := fs.Bool("accepted", false, "also list the findings a deviation accepts (text output; json always has them)")
	pos, help, err := parseArgs(fs, checkUsage, args, stdout)
	if help {
		return nil
	}
	if err != nil {
		return fail(err)
	}
	if *output != "text" && *output != "json" {
		return fail(fmt.Errorf("--output %q: want text or json\n%s", *output, commandUsage(fs, checkUsage)))
	}
	p, err := r.load()
	if err != nil {
		return fail(err)
	}
	envs := pos
	if len(envs) == 0 {
		for _, e := range p.Environments {
			envs = append(envs, string(e.Name))
		}
	}
	var selected []config.Environment
	for _, env := range envs {
		if slices.ContainsFunc(selected, func(e config.Environment) bool { return string(e.Name) == env }) {
			continue // named twice: checked once
		}
		e, err := generator.Environment(p, env)
		if err != nil {
			return fail(err)
		}
		selected = append(selected, e)
	}
	sealed, err := generator.ReadSealed(p, r.dir)
	if err != nil {
		return fail(err)
	}
	if err := generator.CheckSealedLists(selected, sealed); err != nil {
		return fail(err)
	}
	for _, e := range selected {
		if err := sealedDirExists(sealed, string(e.Name)); err != nil {
			return fail(err)
		}
	}
	disk, err := gitrev.ReadDisk(r.dir, review.Roots)
	if err != nil {
		return fail(err)
	}
	t := tree.Tree(disk)
	for _, e := range selected {
		if _, ok := t[path.Join("overlays", string(e.Name), "kustomization.yaml")]; !ok {
			return fail(fmt.Errorf("overlays/%s/kustomization.yaml is not in %s: run `platformctl generate -C %s` (make generate) first", e.Name, r.dir, r.dir))
		}
	}
	if gen, err := generator.Generate(p, sealed); err != nil {
		return fail(err)
	} else if stale := generator.Owned.Differences(t, gen); len(stale) > 0 {
		which := strings.Join(stale[:min(len(stale), 3)], ", ")
		if len(stale) > 3 {
			which += fmt.Sprintf(" and %d more", len(stale)-3)
		}
		verb := "differ"
		if len(stale) == 1 {
			verb = "differs"
		}
		fmt.Fprintf(stderr, "warning: %s %s from what %s and secrets/ give (edited by hand, or not generated again): checking the files as they are; run `platformctl generate -C %s` (make generate)\n", which, verb, r.file, r.dir)
	}
	var out checkOutput
	findings := 0
	for _, e := range selected {
		rep, err := generator.CheckEnvironment(p, t, string(e.Name), only...)
		if err != nil {
			return fail(err)
		}
		findings += len(rep.Findings)
		out.Environments = append(out.Environments, checkEnvOutput{Environment: string(e.Name), Checks: rep.Ran,
			Findings: nonNil(rep.Findings), Accepted: nonNil(rep.Accepted)})
	}
	if *output == "json" {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return fail(err)
		}
		if _, err := fmt.Fprintf(stdout, "%s\n", b); err != nil {
			return fail(err)
		}
	} else {
		for _, e := range out.Environments {
			for _, f := range e.Findings {
				fmt.Fprintln(stdout, formatResult(f))
			}
			if *accepted {
				for _, f := range e.Accepted {
					fmt.Fprintf(stdout, "%s (accepted: %s)\n", formatResult(f), f.Accepted)
				}
			}
			fmt.Fprintf(stdout, "%s: %s, %s, %s\n", e.Environment, plural(e.Checks, "check"), plural(len(e.Findings), "finding"), plural(len(e.Accepted), "accepted deviation"))
		}
	}
	if findings > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// formatResult is one line: environment, file, object, [check] detail.
func formatResult(f check.Result) string {
	file := f.File
	if file == "" {
		file = "overlays/" + f.Env
	}
	if len(f.Patches) > 0 {
		file += " (patched by " + strings.Join(f.Patches, ", ") + ")"
	}
	return fmt.Sprintf("%s: %s: %s [%s]: %s", f.Env, file, f.Object, f.Check, f.Detail)
}

// plural is "1 finding", "2 findings".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func knownCheck(id string) bool {
	if slices.Contains(check.Families, id) || id == generator.DecodeCheck {
		return true
	}
	for _, c := range check.Checks() {
		if c.ID == id {
			return true
		}
	}
	return false
}

func nonNil(rs []check.Result) []check.Result {
	if rs == nil {
		return []check.Result{}
	}
	return rs
}
