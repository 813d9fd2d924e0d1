package check

import (
	"fmt"
	"strings"
)

// Doc is docs/manifest-checks.md: how to run the checks, every check by
// family (ID, rationale, the upstream rule it restates) and every
// deviation, all read from this package.
func Doc() string {
	var b strings.Builder
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	b.WriteString(`# Manifest checks

Generated from package ` + "`generator/check`" + ` by ` + "`go test ./generator/check -update`" + `; do not edit.
How each check maps onto kube-linter's and Polaris' defaults, and the sources
read: [manifest-checks-upstream.md](manifest-checks-upstream.md).

` + "`platformctl check [<env>...]`" + ` builds ` + "`overlays/<env>`" + ` as it is in the repository
(what Flux applies) with kustomize in-process, decodes every object strictly into its
` + "`k8s.io/api`" + ` type (unknown kinds and unknown fields are findings of
` + "`strict-decode`" + `; a file kustomize cannot read — a duplicate key, a YAML syntax
error, a patch without its target — is an error, exit 2) and runs every check below. Each finding names the environment,
the generated file that defines the object (and the patch files that change it in that
environment), the object, the check and what is wrong:

` + "```" + `
dev: base/app/worker.yaml: Deployment/worker [images]: container worker has no imagePullPolicy
dev: ` + fmt.Sprint(len(Checks())) + ` checks, 1 finding, 109 accepted deviations
` + "```" + `

Exit status 0 when nothing is found, 1 on a finding, 2 on an error. ` + "`--check <id|family>`" + `
runs some checks only, ` + "`--output json`" + ` prints every finding and accepted deviation as
JSON, ` + "`--accepted`" + ` lists the accepted ones in the text output too. ` + "`make test`" + ` runs
the same checks on every environment of the repository's description
(internal/repocheck) and, with every deviation required to accept something, on the
generator's fixture (generator/checks_test.go); each check also has a compliant
fixture it passes and a broken one it reports (generator/check/check_test.go).

## Checks
`)
	for _, f := range Families {
		fmt.Fprintf(&b, "\n### %s\n\n| Check | Why | Restates |\n|---|---|---|\n", f)
		for _, c := range Checks() {
			if c.Family == f {
				fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.ID, cell(c.Rationale), cell(c.Upstream))
			}
		}
	}
	b.WriteString(`
## Deviations

A deliberate deviation is never a silent skip: it accepts the findings of one check
on one object (` + "`*`" + `: every object) whose detail contains the text given, says why,
and is reported as accepted (` + "`platformctl check --accepted`" + `). One that accepts nothing
on the generator's fixture fails ` + "`make test`" + `, so the list cannot go stale.

| Check | Object | Finding contains | Why |
|---|---|---|---|
`)
	for _, d := range Deviations {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Check, d.Object, cell(d.Contains), cell(d.Why))
	}
	return b.String()
}
