// Command platformctl turns platform.yaml into the GitOps repository.
//
//	platformctl generate [-f platform.yaml] [-C dir] [-q]   write base/, overlays/ and clusters/ (warns of changes the API server refuses)
//	platformctl build <env> [-f platform.yaml] [-C dir]     print an environment's built manifests
//	platformctl layers [-f platform.yaml] [-C dir]          print each cluster's Flux layers
//	platformctl check [<env>...]                            run the manifest checks on the built environments
//	platformctl diff [--base rev] [--env env]               what a change puts on each cluster
//	platformctl secrets …                                   seal and rotate credentials
//
// It only parses flags; the work is in package generator.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/cache"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/flux"
	"lbl.gov/invenio-gitops/generator/review"
	"lbl.gov/invenio-gitops/generator/tree"
	"lbl.gov/invenio-gitops/internal/gitrev"
)

const usage = `usage: platformctl <command> [flags]

  generate [-f platform.yaml] [-C dir] [-q]   (re)write base/, overlays/ and clusters/ from the description,
                                              warning of changes the API server refuses
  build <env> [-f platform.yaml] [-C dir]     print the fully built manifests of one environment
  layers [-f platform.yaml] [-C dir]          print each cluster's Flux layers in dependency order
  check [<env>...] [--check id] [--output text|json] [--accepted] [-f platform.yaml] [-C dir]
                                              run the manifest checks on each environment's build
                                              (docs/manifest-checks.md)
  diff [--base <rev>] [--env <env>] [--output text|markdown|json] [--exit-code] [-C dir]
                                              what changes on each cluster, against main (platformctl diff -h)
  secrets fetch-cert|init|set|rotate|reencrypt|check …
                                              seal and rotate credentials (platformctl secrets help)
  version                                     print the version (also --version)
  completion bash|zsh                         print the shell completion script (platformctl completion -h)

-C dir works as in git and make: the command runs in dir (the repository) and
reads a relative -f, --from-file or --kubeconfig from there.
generate and the secrets commands that write take the repository's lock: one
started while another writes waits up to 30s, then stops, naming the other.
platformctl <command> -h (or platformctl help <command>) describes a command's flags.

Exit status: 0 done; 1 a finding (check: a manifest check failed; diff
--exit-code: something changed; secrets check: a key is not sealed); 2 an
error (a bad description, flag, argument, command or environment, a link in
the way, …), with nothing written; 3 diff --exit-code: a change the API
server refuses (docs/immutable-fields.md).
`

// lockWait is how long a command that writes waits for another one
// writing the same repository (generate takes about a second).
var lockWait = 30 * time.Second

func main() {
	// A generate allocates much and lives about a second: collecting
	// garbage a quarter as often saves time for memory, up to a soft
	// limit past which the collector works harder again (docs/speed.md).
	// GOGC and GOMEMLIMIT, when set, decide as usual.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(768 << 20)
	}
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, msg)
		}
	}
	os.Exit(exitStatus(err))
}

// exitStatus is the status the usage text promises: 0 for nil, an
// exitError's code (1 for a finding, 3 for a refused change), 2 for every
// other error.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 2
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "generate":
		return runGenerate(args[1:], stdout, stderr)
	case "build":
		return runBuild(args[1:], stdout)
	case "diff":
		return runDiff(args[1:], stdout)
	case "secrets":
		return runSecrets(args[1:], os.Stdin, stdout, stderr)
	case "layers":
		return runLayers(args[1:], stdout)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		switch {
		case len(args) == 1:
			fmt.Fprint(stdout, usage)
			return nil
		case len(args) == 2 && slices.Contains(commands, args[1]) && args[1] != "help":
			return run([]string{args[1], "--help"}, stdout, stderr) // as git help <command>
		}
		return fmt.Errorf("%s: no command %q\n%s", args[0], strings.Join(args[1:], " "), usage)
	case "completion":
		return runCompletion(args[1:], stdout)
	case "__complete": // for the completion scripts; not in the usage
		return complete(args[1:], stdout)
	case "version", "--version":
		if len(args) == 2 && (args[1] == "-h" || args[1] == "--help") {
			fmt.Fprint(stdout, "usage: platformctl version (or --version)\n\nPrints the version: the module version, the commit it was built from and the Go version.\n")
			return nil
		}
		if len(args) > 1 {
			return fmt.Errorf("%s takes no arguments, got %q", args[0], args[1:])
		}
		fmt.Fprintln(stdout, version())
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

// version is "platformctl <module version> (<commit>[, modified], <go
// version>)" from the build information the Go toolchain embeds (the
// commit when built from a git checkout, as make build does).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "platformctl (unknown version)"
	}
	details := []string{}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		details = append(details, "commit "+rev)
		if settings["vcs.modified"] == "true" {
			details = append(details, "modified")
		}
	}
	details = append(details, bi.GoVersion)
	return fmt.Sprintf("platformctl %s (%s)", bi.Main.Version, strings.Join(details, ", "))
}

// repoFlags are the flags of the commands that read the description.
type repoFlags struct {
	file, dir string
}

func newFlags(name string) (*flag.FlagSet, *repoFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	r := &repoFlags{}
	fs.StringVar(&r.file, "f", "platform.yaml", "the platform description, a YAML `file` (a relative path is read from -C)")
	fs.StringVar(&r.dir, "C", ".", "run in `dir`, the repository, as git -C does")
	return fs, r
}

// load checks the -C directory and loads the description, -f read from
// -C. Errors name the directory or the file as read.
func (r *repoFlags) load() (*config.Platform, error) {
	p, _, err := r.loadSource()
	return p, err
}

// loadSource is load, also returning the bytes the description was read
// from.
func (r *repoFlags) loadSource() (*config.Platform, []byte, error) {
	if err := checkDir(r.dir); err != nil {
		return nil, nil, err
	}
	r.file = inDir(r.dir, r.file)
	data, err := config.Read(r.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%w: name the description with -f (a relative path is read from the -C directory)", err)
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := config.Parse(r.file, data)
	return p, data, err
}

// sealedDirExists refuses to build env without its secrets/<env>/ (its
// kustomization.yaml): kustomize would only say the path does not exist.
func sealedDirExists(sealed tree.Tree, env string) error {
	if _, ok := sealed[path.Join(generator.SecretsDir(env), "kustomization.yaml")]; !ok {
		return fmt.Errorf("%s/kustomization.yaml is missing: the environment's values are not sealed yet; run `platformctl secrets init %s` (docs/secrets.md)", generator.SecretsDir(env), env)
	}
	return nil
}

// checkDir refuses a -C that is not a directory: nothing else would (a
// missing secrets/ reads as "nothing sealed" and a missing tree as empty).
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("-C %s: no such directory", dir)
	case errors.As(err, &pe):
		return fmt.Errorf("-C %s: %v", dir, pe.Err)
	case err != nil:
		return fmt.Errorf("-C %s: %v", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("-C %s: not a directory", dir)
	}
	return nil
}

// inDir is where path is for a command run in dir (-C): path itself when
// absolute.
func inDir(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// lock takes the repository's write lock for command, saying on stderr
// when it waits and for whom.
func lock(dir, command string, stderr io.Writer) (release func(), err error) {
	return tree.Lock(dir, tree.Me(command), lockWait, func(h tree.Holder) {
		fmt.Fprintf(stderr, "waiting up to %s for %s to finish writing %s\n", lockWait, h, dir)
	})
}

// parseArgs parses args, flags anywhere among the positional arguments.
// With -h or --help it prints the usage (head, then the flags) to stdout
// and returns help; a bad flag is an error carrying the usage.
func parseArgs(fs *flag.FlagSet, head string, args []string, stdout io.Writer) (pos []string, help bool, err error) {
	if capture != nil {
		capture(fs)
		return nil, true, nil
	}
	fs.SetOutput(io.Discard) // the errors returned say it all, once
	pos, err = parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commandUsage(fs, head))
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: %v\n%s", fs.Name(), err, commandUsage(fs, head))
	}
	return pos, false, nil
}

func commandUsage(fs *flag.FlagSet, head string) string {
	var b strings.Builder
	b.WriteString(head + "\nflags:\n")
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	return b.String()
}

const generateUsage = `usage: platformctl generate [-f platform.yaml] [-C dir] [-q]

(Re)writes base/, overlays/ and clusters/ from the description and the
sealed values of secrets/<env>/, or changes nothing and says why. Warns
(on standard error, status unchanged) of each change it writes that the
API server refuses on a running cluster, with what it takes
(docs/immutable-fields.md).
`

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs, r := newFlags("generate")
	quiet := fs.Bool("q", false, "print nothing when nothing changed")
	pos, help, err := parseArgs(fs, generateUsage, args, stdout)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("generate takes no arguments, got %q\n%s", pos, commandUsage(fs, generateUsage))
	}
	if err := checkDir(r.dir); err != nil {
		return err
	}
	// The lock first: a generate that waits for another command writes
	// from the description and sealed values as they are once it has it.
	release, err := lock(r.dir, "generate", stderr)
	if err != nil {
		return err
	}
	defer release()
	p, source, err := r.loadSource()
	if err != nil {
		return err
	}
	// tree.Write checks this too, but only after the second generating
	// takes.
	if err := generator.Owned.CheckLinks(r.dir); err != nil {
		return err
	}
	sealed, err := generator.ReadSealed(p, r.dir)
	if err != nil {
		return err
	}
	// One memo of kustomize builds for the checks and the comparison
	// with the tree on disk: what they share is built once.
	builds := generator.NewBuilds()
	t, warnings, err := generateCached(p, source, sealed, builds)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	stray, err := generator.StraySecretsDirs(p, r.dir)
	if err != nil {
		return err
	}
	for _, d := range stray {
		fmt.Fprintln(stderr, "warning:", generator.StrayWarning(d))
	}
	// What the API server would refuse on a cluster running the tree
	// now on disk (docs/immutable-fields.md); written all the same.
	before, err := gitrev.ReadDisk(r.dir, review.Roots)
	if err != nil {
		return err
	}
	refused, err := review.NewRenderer(builds).Refusals(before, generator.Owned.Replace(before, t))
	if err != nil {
		fmt.Fprintln(stderr, "warning: could not compare with the tree on disk for changes the API server refuses:", err)
	}
	for _, f := range refused {
		fmt.Fprintln(stderr, "warning:", f)
	}
	if len(refused) > 0 {
		fmt.Fprintf(stderr, "warning: %d of the changes written are ones the API server refuses: Flux's apply of their layer fails until each is done by hand as it says (`platformctl diff` shows them in context)\n", len(refused))
	}
	res, err := tree.Write(r.dir, t, generator.Owned)
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
}

// generateCached is generator.GenerateChecked of p (read from source) and
// sealed, through the result cache: the description and the sealed files
// are all a generate reads, so with the same ones (and the same program)
// the tree computed and checked before is taken from the cache.
func generateCached(p *config.Platform, source []byte, sealed tree.Tree, builds *generator.Builds) (tree.Tree, []string, error) {
	c := cache.Open()
	key, err := cache.Key(append([]cache.Part{{Name: "description", Content: source}}, cache.TreeParts(sealed)...)...)
	if err != nil {
		c = nil // no key, no cache
	}
	if e, hit := c.Get(key); hit {
		return e.Tree, e.Warnings, nil
	}
	t, warnings, err := generator.GenerateChecked(p, sealed, builds)
	if err != nil {
		return nil, nil, err
	}
	c.Put(key, cache.Entry{Tree: t, Warnings: warnings}) // a cache that cannot be written only costs time
	return t, warnings, nil
}

const buildUsage = `usage: platformctl build <env> [-f platform.yaml] [-C dir]

Prints the manifests of one environment exactly as kustomize builds
overlays/<env> (with its sealed secrets), from the description.
`

func runBuild(args []string, stdout io.Writer) error {
	fs, r := newFlags("build")
	pos, help, err := parseArgs(fs, buildUsage, args, stdout)
	if help || err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("build takes one environment, got %q\n%s", pos, commandUsage(fs, buildUsage))
	}
	env := pos[0]
	p, err := r.load()
	if err != nil {
		return err
	}
	e, err := generator.Environment(p, env)
	if err != nil {
		return err
	}
	sealed, err := generator.ReadSealed(p, r.dir)
	if err != nil {
		return err
	}
	if err := generator.CheckSealedLists([]config.Environment{e}, sealed); err != nil {
		return err
	}
	if err := sealedDirExists(sealed, env); err != nil {
		return err
	}
	t, err := generator.Generate(p, sealed)
	if err != nil {
		return err
	}
	out, err := generator.BuildYAML(t.With(sealed), "overlays/"+env)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

const layersUsage = `usage: platformctl layers [-f platform.yaml] [-C dir]

Prints each cluster's Flux Kustomizations, each under the one it depends on.
`

func runLayers(args []string, stdout io.Writer) error {
	fs, r := newFlags("layers")
	pos, help, err := parseArgs(fs, layersUsage, args, stdout)
	if help || err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("layers takes no arguments, got %q\n%s", pos, commandUsage(fs, layersUsage))
	}
	p, err := r.load()
	if err != nil {
		return err
	}
	g, err := flux.Graph(p)
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, g)
	return err
}
