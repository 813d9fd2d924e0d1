package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/review"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/gitrev"
)

const diffUsage = `usage: platformctl diff [--base <git-rev>] [--env <env>] [--output text|markdown|json] [--color auto|always|never] [--exit-code] [-f platform.yaml] [-C dir]

Compares what each environment puts on its cluster at the base revision
(default: the merge base of HEAD with main) and in the working tree, offline.
Changes the API server refuses on a running object (immutable fields) are
flagged first, with what each takes (docs/immutable-fields.md).

The working tree's generated files must be what the description (-f) and
secrets/ give: a description edited but not generated again is an error
that says so (run platformctl generate), not "no changes". A repository
without the description (generated files only) is compared as it is.

Exit status: 0; with --exit-code, 0 when nothing changed, 1 when something
changed, 3 when some change is one the API server refuses; 2 on error.
`

// exitRefused is diff --exit-code's status when some change is one the
// API server refuses: a push that would fail must not read like any other
// change (1), nor like an error (2).
const exitRefused = 3

// exitError ends the program with code, printing err when there is one.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func runDiff(args []string, stdout io.Writer) error {
	fail := func(err error) error { return &exitError{code: 2, err: err} }
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	dir := fs.String("C", ".", "the repository (its root, where base/ and overlays/ are)")
	file := fs.String("f", "platform.yaml", "the platform description the generated files must agree with, a YAML `file` (a relative path is read from -C)")
	base := fs.String("base", "", "the revision to compare with (default: merge base of HEAD with main, origin/main, master)")
	env := fs.String("env", "", "only this environment (or cluster)")
	output := fs.String("output", "text", "text, markdown or json")
	color := fs.String("color", "auto", "auto (on a terminal, unless NO_COLOR is set), always or never")
	exitCode := fs.Bool("exit-code", false, "exit with 1 when there are changes, 3 when the API server refuses one")
	pos, help, err := parseArgs(fs, diffUsage, args, stdout)
	if help {
		return nil
	}
	if err != nil {
		return fail(err)
	}
	if len(pos) > 0 {
		return fail(fmt.Errorf("unexpected argument %q\n%s", pos[0], diffUsage))
	}
	if err := checkDir(*dir); err != nil {
		return fail(err)
	}
	var style review.Style
	switch *color {
	case "auto":
		// no-color.org: set and not empty.
		style.Color = os.Getenv("NO_COLOR") == "" && isTerminal(stdout)
	case "always":
		style.Color = true
	case "never":
	default:
		return fail(fmt.Errorf("--color %q: write auto, always or never", *color))
	}
	write := map[string]func(io.Writer, review.Report) error{
		"text":     func(w io.Writer, r review.Report) error { return review.Text(w, r, style) },
		"markdown": review.Markdown,
		"json":     review.JSON,
	}[*output]
	if write == nil {
		return fail(fmt.Errorf("--output %q: write text, markdown or json", *output))
	}

	label, commit := *base, ""
	if *base == "" {
		label, commit, err = gitrev.DefaultBase(*dir)
	} else {
		commit, err = gitrev.Resolve(*dir, *base)
	}
	if err != nil {
		return fail(err)
	}
	old, err := gitrev.Read(*dir, commit, review.Roots)
	if err != nil {
		return fail(err)
	}
	new, err := gitrev.ReadDisk(*dir, review.Roots)
	if err != nil {
		return fail(err)
	}
	named := false
	fs.Visit(func(f *flag.Flag) { named = named || f.Name == "f" })
	// One memo of kustomize builds: the checks of a generate that
	// checkFresh runs build the working tree's revision the diff renders.
	builds := generator.NewBuilds()
	if err := checkFresh(*dir, *file, named, new, builds); err != nil {
		return fail(err)
	}
	r, err := review.NewRenderer(builds).Diff(old, new, *env)
	if err != nil {
		return fail(err)
	}
	r.Base = fmt.Sprintf("%s (%s)", label, commit[:12])
	r.Head = "working tree"
	if err := write(stdout, r); err != nil {
		return fail(err)
	}
	switch {
	case !*exitCode:
	case r.Refused() > 0:
		return &exitError{code: exitRefused}
	case r.Changes():
		return &exitError{code: 1}
	}
	return nil
}

// checkFresh fails when the generated files of disk (the working tree of
// dir) are not what the description file and secrets/ give: the diff of a
// stale tree shows what was generated last, not what the description
// says. Without the description (file not named with -f, and absent) there
// is nothing to check.
func checkFresh(dir, file string, named bool, disk tree.Tree, builds *generator.Builds) error {
	r := &repoFlags{file: file, dir: dir}
	if _, err := os.Stat(inDir(dir, file)); !named && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	p, source, err := r.loadSource()
	if err != nil {
		return err
	}
	sealed, err := generator.ReadSealed(p, dir)
	if err != nil {
		return err
	}
	t, _, err := generateCached(p, source, sealed, builds)
	if err != nil {
		return err
	}
	stale := generator.Owned.Differences(disk, t)
	if len(stale) == 0 {
		return nil
	}
	which := strings.Join(stale[:min(len(stale), 3)], ", ")
	if len(stale) > 3 {
		which += fmt.Sprintf(" and %d more", len(stale)-3)
	}
	return fmt.Errorf("the generated files are stale: %s differ from what %s and secrets/ give (edited by hand, or not generated again since the description changed); run `platformctl generate -C %s` (make generate), then diff again", which, r.file, dir)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
