// Command platformctl turns platform.yaml into the GitOps repository.
//
//	platformctl generate [-f platform.yaml] [-C dir]   write base/ and overlays/ (warns of changes the API server refuses)
//	platformctl build <env> [-f platform.yaml]         print an environment's built manifests
//	platformctl diff [--base rev] [--env env]          what a change puts on each cluster
//
// It only parses flags; the work is in package generator.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/review"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/gitrev"
)

const usage = `usage:
  platformctl generate [-f platform.yaml] [-C dir]   (re)write base/ and overlays/ from the description,
                                                     warning of changes the API server refuses
  platformctl build <env> [-f platform.yaml] [-C dir]   print the fully built manifests of one environment
  platformctl layers [-f platform.yaml]              print each cluster's Flux layers in dependency order
  platformctl diff [--base <rev>] [--env <env>] [--output text|markdown|json] [--exit-code]
                                                     what changes on each cluster, against main (platformctl diff -h)
  platformctl secrets fetch-cert|init|set|rotate|reencrypt|check …   seal and rotate credentials (platformctl secrets help)
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		code := 1
		var e *exitError
		if errors.As(err, &e) {
			code = e.code
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
		os.Exit(code)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "platform.yaml", "the platform description")
	dir := fs.String("C", ".", "the repository to write into")
	quiet := fs.Bool("q", false, "print nothing when nothing changed")
	switch args[0] {
	case "generate":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		p, err := config.Load(*file)
		if err != nil {
			return err
		}
		sealed, err := generator.ReadSealed(p, *dir)
		if err != nil {
			return err
		}
		t, warnings, err := generator.GenerateChecked(p, sealed)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(stderr, "warning:", w)
		}
		// What the API server would refuse on a cluster running the tree
		// now on disk (docs/immutable-fields.md); written all the same.
		before, err := gitrev.ReadDisk(*dir, review.Roots)
		if err != nil {
			return err
		}
		refused, err := review.Refusals(before, generator.Owned.Replace(before, t))
		if err != nil {
			fmt.Fprintln(stderr, "warning: could not compare with the tree on disk for changes the API server refuses:", err)
		}
		for _, f := range refused {
			fmt.Fprintln(stderr, "warning:", f)
		}
		if len(refused) > 0 {
			fmt.Fprintf(stderr, "warning: %d of the changes written are ones the API server refuses: Flux's apply of their layer fails until each is done by hand as it says (`platformctl diff` shows them in context)\n", len(refused))
		}
		res, err := tree.Write(*dir, t, generator.Owned)
		if err != nil {
			return err
		}
		for _, f := range res.Written {
			fmt.Fprintln(stdout, "wrote  ", f)
		}
		for _, f := range res.Removed {
			fmt.Fprintln(stdout, "removed", f)
		}
		if !*quiet || len(res.Written)+len(res.Removed) > 0 {
			fmt.Fprintf(stdout, "%d files written, %d removed, %d unchanged\n", len(res.Written), len(res.Removed), len(res.Unchanged))
		}
		return nil
	case "build":
		if len(args) < 2 {
			return errors.New("usage: platformctl build <env> [-f platform.yaml]")
		}
		env := args[1]
		if err := fs.Parse(args[2:]); err != nil {
			return err
		}
		p, err := config.Load(*file)
		if err != nil {
			return err
		}
		if _, err := generator.Environment(p, env); err != nil {
			return err
		}
		sealed, err := generator.ReadSealed(p, *dir)
		if err != nil {
			return err
		}
		t, err := generator.Generate(p)
		if err != nil {
			return err
		}
		out, err := generator.BuildYAML(t.With(sealed), "overlays/"+env)
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	case "diff":
		return runDiff(args[1:], stdout, stderr)
	case "secrets":
		return runSecrets(args[1:], os.Stdin, stdout, stderr)
	case "layers":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		p, err := config.Load(*file)
		if err != nil {
			return err
		}
		g, err := flux.Graph(p)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, g)
		return err
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}
