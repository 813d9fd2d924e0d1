package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/sealing"
	"lbl.gov/invenio-gitops/generator/tree"
)

const secretsUsage = `usage:
  platformctl secrets fetch-cert <env> [--kubeconfig path] [--context name]
        fetch the sealed-secrets controller's certificate into secrets/<env>/sealing-cert.pem
  platformctl secrets init <env>
        seal a new random value for every generated key that is not sealed yet
  platformctl secrets set <env> <secret>/<key> [--from-file path]
        seal a value read from the file, or from stdin
  platformctl secrets rotate <env> <secret>/<key> [--from-file path]
        seal a new value: random for generated keys, from the file or stdin for the others
  platformctl secrets reencrypt <env> [--kubeconfig path] [--context name]
        have the controller re-encrypt every sealed value with its current key
  platformctl secrets check [<env>]
        list every key the manifests read and whether it is sealed; fails if one is not
  platformctl secrets prune <env> [--dry-run]
        remove the sealed keys no manifest reads (a part switched off), and their files when empty
Every command also takes -f platform.yaml (the description) and -C dir (the
repository, where a relative -f, --from-file or --kubeconfig is read from).
The commands that write wait for the repository's lock (platformctl help).
Exit status: 0 done; 1 check found a key not sealed; 2 an error.
See docs/secrets.md.
`

// maxValue is the largest value `secrets set` accepts (a Secret holds at
// most 1 MiB in all).
const maxValue = 1 << 20

// secretsCmd is one run of `platformctl secrets …`.
type secretsCmd struct {
	file, dir            string
	kubeconfig, kubeCtx  string
	fromFile             string
	stdin                io.Reader
	stdout, stderr       io.Writer
	now                  time.Time
	rand                 io.Reader
	platform             *config.Platform
	env                  config.Environment
	envName, rel, absDir string // the environment, secrets/<env>, and where it is on disk
	dryRun               bool
}

// runSecrets runs `platformctl secrets <command> …` (args without
// "secrets"). Nothing is written unless the whole command succeeds.
func runSecrets(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(secretsUsage)
	}
	c := &secretsCmd{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now(), rand: rand.Reader}
	fs := flag.NewFlagSet("secrets "+args[0], flag.ContinueOnError)
	fs.StringVar(&c.file, "f", "platform.yaml", "the platform description, a YAML `file` (a relative path is read from -C)")
	fs.StringVar(&c.dir, "C", ".", "run in `dir`, the repository, as git -C does")
	cluster := func() {
		fs.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
		fs.StringVar(&c.kubeCtx, "context", "", "kubeconfig context (default: the current one)")
	}
	value := func() {
		fs.StringVar(&c.fromFile, "from-file", "", "read the value from this file instead of stdin")
	}
	var run func(pos []string) error
	var min, max int
	writes := true // into secrets/<env>/
	switch args[0] {
	case "fetch-cert":
		cluster()
		run, min, max = c.fetchCert, 1, 1
	case "init":
		run, min, max = c.init, 1, 1
	case "set":
		value()
		run, min, max = c.set, 2, 2
	case "rotate":
		value()
		run, min, max = c.rotate, 2, 2
	case "reencrypt":
		cluster()
		run, min, max = c.reencrypt, 1, 1
	case "check":
		run, min, max, writes = c.check, 0, 1, false
	case "prune":
		fs.BoolVar(&c.dryRun, "dry-run", false, "say what would be removed, and remove nothing")
		run, min, max = c.prune, 1, 1
	case "-h", "--help", "help":
		fmt.Fprint(stdout, secretsUsage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", "secrets "+args[0], secretsUsage)
	}
	pos, help, err := parseArgs(fs, secretsUsage, args[1:], stdout)
	if help || err != nil {
		return err
	}
	if len(pos) < min || len(pos) > max {
		return fmt.Errorf("secrets %s takes %s, got %q\n%s", args[0], map[string]string{
			"fetch-cert": "<env>", "init": "<env>", "set": "<env> <secret>/<key>", "rotate": "<env> <secret>/<key>",
			"reencrypt": "<env>", "check": "at most one <env>", "prune": "<env>",
		}[args[0]], pos, secretsUsage)
	}
	if err := checkDir(c.dir); err != nil {
		return err
	}
	if writes {
		// The lock before the description is read: a command that waits
		// for another one works from the description as it is then.
		release, err := lock(c.dir, "secrets "+args[0], stderr)
		if err != nil {
			return err
		}
		defer release()
	}
	r := repoFlags{file: c.file, dir: c.dir}
	p, err := r.load()
	if err != nil {
		return err
	}
	c.file, c.platform = r.file, p
	c.fromFile, c.kubeconfig = inDir(c.dir, c.fromFile), inDir(c.dir, c.kubeconfig)
	if len(pos) > 0 {
		if err := c.selectEnv(pos[0]); err != nil {
			return err
		}
	}
	if writes {
		// sealing.WriteDir follows links: none may lead out of the repository.
		if err := (tree.Owned{Roots: []string{c.rel}}).CheckLinks(c.dir); err != nil {
			return err
		}
	}
	return run(pos)
}

// parseInterleaved parses flags wherever they are among the positional
// arguments (`set dev a/b --from-file x`), which flag.Parse alone does not.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *secretsCmd) selectEnv(name string) error {
	e, err := generator.Environment(c.platform, name)
	if err != nil {
		return err
	}
	c.env, c.envName = e, name
	c.rel = generator.SecretsDir(name)
	c.absDir = filepath.Join(c.dir, filepath.FromSlash(c.rel))
	return nil
}

// readDir reads secrets/<env>/.
func (c *secretsCmd) readDir() (sealing.Dir, error) {
	d, err := sealing.ReadDir(c.absDir)
	if err != nil {
		// Name files relative to the repository.
		return d, errors.New(strings.ReplaceAll(err.Error(), c.absDir+string(filepath.Separator), c.rel+"/"))
	}
	return d, nil
}

// cert is the environment's sealing key, from secrets/<env>/sealing-cert.pem.
func (c *secretsCmd) cert(d sealing.Dir) (*rsa.PublicKey, error) {
	certPath := path.Join(c.rel, sealing.CertFile)
	if d.Cert == nil {
		return nil, fmt.Errorf("no sealing certificate for environment %s: %s does not exist; fetch it with `platformctl secrets fetch-cert %s`", c.envName, certPath, c.envName)
	}
	pub, err := sealing.ParseCertificate(d.Cert, c.now)
	if err != nil {
		return nil, fmt.Errorf("%s: %v; fetch the controller's current certificate with `platformctl secrets fetch-cert %s`", certPath, err, c.envName)
	}
	return pub, nil
}

// write writes d into secrets/<env>/ (only what changed) and says so.
func (c *secretsCmd) write(d sealing.Dir, remove ...string) error {
	files, err := d.Files()
	if err != nil {
		return err
	}
	written, err := sealing.WriteDir(c.absDir, files, remove...)
	var ce *tree.CommitError
	if errors.As(err, &ce) {
		// Name the file relative to the repository.
		if rel, rerr := filepath.Rel(c.dir, ce.Path); rerr == nil {
			ce.Path = filepath.ToSlash(rel)
		}
	}
	if err != nil {
		return err
	}
	for _, f := range written {
		fmt.Fprintln(c.stdout, "wrote", path.Join(c.rel, f))
	}
	for _, f := range remove {
		fmt.Fprintln(c.stdout, "removed", path.Join(c.rel, f))
	}
	return nil
}

// prune removes the sealed keys no manifest of the environment reads
// (sealing.Check's Unreferenced: a part switched off, a Secret renamed),
// and the file of a SealedSecret left with none, so that Flux no longer
// applies it. The values are gone from git afterwards (history keeps
// them): a part switched on again gets new ones from init.
func (c *secretsCmd) prune([]string) error {
	keys, err := generator.SecretKeys(c.platform, c.envName)
	if err != nil {
		return err
	}
	d, err := c.readDir()
	if err != nil {
		return err
	}
	r := sealing.Check(keys, d.Sealed)
	if len(r.Unreferenced) == 0 {
		fmt.Fprintf(c.stdout, "%s: every sealed key is read; nothing to prune\n", c.envName)
		return nil
	}
	var remove []string
	for _, ref := range r.Unreferenced {
		secret, key, _ := strings.Cut(ref, "/")
		ss := d.Sealed[secret].DeepCopy()
		delete(ss.Spec.EncryptedData, key)
		d.Sealed[secret] = ss
		verb := "pruned"
		if c.dryRun {
			verb = "would prune"
		}
		fmt.Fprintf(c.stdout, "%s %s (no manifest reads it)\n", verb, ref)
		if len(ss.Spec.EncryptedData) == 0 {
			delete(d.Sealed, secret)
			remove = append(remove, sealing.FileName(secret))
		}
	}
	if c.dryRun {
		for _, f := range remove {
			fmt.Fprintln(c.stdout, "would remove", path.Join(c.rel, f))
		}
		return nil
	}
	return c.write(d, remove...)
}

func (c *secretsCmd) controller() (sealing.Controller, error) {
	cfg, err := sealing.RESTConfig(c.kubeconfig, c.kubeCtx)
	if err != nil {
		return nil, err
	}
	return sealing.NewController(cfg, string(c.env.Sealing.ControllerNamespace), string(c.env.Sealing.ControllerName))
}

func (c *secretsCmd) fetchCert([]string) error {
	ctrl, err := c.controller()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pemBytes, pub, err := sealing.FetchCert(ctx, ctrl, c.now)
	if err != nil {
		return err
	}
	d, err := c.readDir()
	if err != nil {
		return err
	}
	old := d.Cert
	d.Cert = pemBytes
	if err := c.write(d); err != nil {
		return err
	}
	certPath := path.Join(c.rel, sealing.CertFile)
	cert, _ := sealing.Certificate(pemBytes, c.now)
	switch {
	case bytes.Equal(old, pemBytes):
		fmt.Fprintf(c.stdout, "%s is up to date (key %s, valid until %s)\n", certPath, sealing.Fingerprint(pub), cert.NotAfter.UTC().Format(time.DateOnly))
	case old == nil:
		fmt.Fprintf(c.stdout, "fetched the certificate of %s/%s into %s (key %s, valid until %s)\n", c.env.Sealing.ControllerNamespace, c.env.Sealing.ControllerName, certPath, sealing.Fingerprint(pub), cert.NotAfter.UTC().Format(time.DateOnly))
	default:
		fmt.Fprintf(c.stdout, "the controller's sealing key changed: %s now holds key %s (valid until %s); existing values still decrypt, and `platformctl secrets reencrypt %s` re-seals them with the new key\n", certPath, sealing.Fingerprint(pub), cert.NotAfter.UTC().Format(time.DateOnly), c.envName)
	}
	return nil
}

// sealedHas reports whether secret/key has a sealed value in d.
func sealedHas(d sealing.Dir, k sealing.Key) bool {
	ss := d.Sealed[k.Target.Name]
	if ss == nil {
		return false
	}
	_, ok := ss.Spec.EncryptedData[k.Key]
	return ok
}

// seal seals values (key → value) of the Secret of k into d, naming the
// file in errors.
// openSealing reads secrets/<env>/ and its certificate: where every
// command that seals starts.
func (c *secretsCmd) openSealing() (sealing.Dir, *rsa.PublicKey, error) {
	d, err := c.readDir()
	if err != nil {
		return d, nil, err
	}
	pub, err := c.cert(d)
	return d, pub, err
}

// sealOne seals one key's value into d and writes the directory.
func (c *secretsCmd) sealOne(d sealing.Dir, pub *rsa.PublicKey, k sealing.Key, v []byte) error {
	if err := c.seal(d, pub, k.Target, map[string][]byte{k.Key: v}); err != nil {
		return err
	}
	return c.write(d)
}

func (c *secretsCmd) seal(d sealing.Dir, pub *rsa.PublicKey, t sealing.Target, values map[string][]byte) error {
	ss, err := sealing.Seal(c.rand, pub, d.Sealed[t.Name], t, values)
	if err != nil {
		return fmt.Errorf("%s: %v", path.Join(c.rel, sealing.FileName(t.Name)), err)
	}
	d.Sealed[t.Name] = ss
	return nil
}

func (c *secretsCmd) init([]string) error {
	keys, err := generator.SecretKeys(c.platform, c.envName)
	if err != nil {
		return err
	}
	d, pub, err := c.openSealing()
	if err != nil {
		return err
	}
	var created, had, supply []sealing.Key
	for _, k := range keys {
		switch {
		case sealedHas(d, k):
			had = append(had, k)
		case !k.Generated():
			supply = append(supply, k)
		default:
			v, err := sealing.Random(c.rand, k.Length)
			if err != nil {
				return err
			}
			if err := c.seal(d, pub, k.Target, map[string][]byte{k.Key: []byte(v)}); err != nil {
				return err
			}
			created = append(created, k)
		}
	}
	if err := c.write(d); err != nil {
		return err
	}
	for _, k := range created {
		fmt.Fprintf(c.stdout, "sealed %s: %d random characters\n", k, k.Length)
	}
	for _, k := range supply {
		fmt.Fprintf(c.stdout, "to supply: %s (platformctl secrets set %s %s --from-file <file>)\n", k, c.envName, k)
	}
	fmt.Fprintf(c.stdout, "%s: %d keys sealed now, %d were sealed already, %d to supply\n", c.envName, len(created), len(had), len(supply))
	return nil
}

// key is the key <secret>/<key> of the environment's manifests.
func (c *secretsCmd) key(ref string) (sealing.Key, error) {
	secret, key, ok := strings.Cut(ref, "/")
	if !ok || secret == "" {
		return sealing.Key{}, fmt.Errorf("%q is not <secret>/<key>, e.g. invenio-saml/sp.key", ref)
	}
	if err := sealing.ValidKey(key); err != nil {
		return sealing.Key{}, err
	}
	return generator.SecretKey(c.platform, c.envName, secret, key)
}

// value reads the value of k from --from-file or stdin. From stdin, a
// single line loses its final newline (echo, a here-string); a value of
// several lines (a PEM file) is kept exactly, as is a file.
func (c *secretsCmd) value(k sealing.Key) ([]byte, error) {
	if c.fromFile != "" {
		fi, err := os.Stat(c.fromFile)
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("--from-file %s: %v", c.fromFile, pe.Err)
		}
		if err != nil {
			return nil, err
		}
		if fi.Size() > maxValue {
			return nil, fmt.Errorf("%s is larger than a Secret may be (1 MiB)", c.fromFile)
		}
		b, err := os.ReadFile(c.fromFile)
		if err != nil {
			return nil, err
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%s is empty: no value for %s", c.fromFile, k)
		}
		return b, nil
	}
	if f, ok := c.stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintf(c.stderr, "value of %s (end with Ctrl-D; it is not echoed anywhere else):\n", k)
		}
	}
	if c.stdin == nil {
		return nil, fmt.Errorf("no value for %s: stdin is empty; pipe the value in or use --from-file", k)
	}
	b, err := io.ReadAll(io.LimitReader(c.stdin, maxValue+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxValue {
		return nil, fmt.Errorf("the value of %s on stdin is larger than a Secret may be (1 MiB)", k)
	}
	if line, ok := bytes.CutSuffix(b, []byte("\n")); ok && !bytes.Contains(line, []byte("\n")) {
		b = bytes.TrimSuffix(line, []byte("\r"))
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("no value for %s: stdin is empty; pipe the value in or use --from-file", k)
	}
	return b, nil
}

func (c *secretsCmd) set(pos []string) error {
	k, err := c.key(pos[1])
	if err != nil {
		return err
	}
	d, pub, err := c.openSealing()
	if err != nil {
		return err
	}
	v, err := c.value(k)
	if err != nil {
		return err
	}
	if k.Generated() {
		// These values go into URLs (postgresql://, amqp://, redis://)
		// and service commands unquoted.
		for _, ch := range v {
			if !('0' <= ch && ch <= '9' || 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z') {
				return fmt.Errorf("the value of %s may hold only letters and digits: the platform puts it into URLs and commands (`platformctl secrets rotate %s %s` makes a random one)", k, c.envName, k)
			}
		}
	}
	replaced := sealedHas(d, k)
	if err := c.sealOne(d, pub, k, v); err != nil {
		return err
	}
	verb := "sealed"
	if replaced {
		verb = "sealed a new value of"
	}
	fmt.Fprintf(c.stdout, "%s %s; the other keys' ciphertexts are unchanged\n", verb, k)
	if replaced {
		fmt.Fprintf(c.stdout, "after the commit reaches the cluster: %s\n", generator.RotationNote(c.env, k.Target.Name))
	}
	return nil
}

func (c *secretsCmd) rotate(pos []string) error {
	k, err := c.key(pos[1])
	if err != nil {
		return err
	}
	d, pub, err := c.openSealing()
	if err != nil {
		return err
	}
	if !sealedHas(d, k) {
		how := "platformctl secrets init " + c.envName
		if !k.Generated() {
			how = "platformctl secrets set " + c.envName + " " + k.String()
		}
		return fmt.Errorf("%s has no sealed value to rotate yet: seal one with `%s`", k, how)
	}
	var v []byte
	if k.Generated() {
		if c.fromFile != "" {
			return fmt.Errorf("%s is generated: rotate seals a new random value; to choose the value use `platformctl secrets set`", k)
		}
		s, err := sealing.Random(c.rand, k.Length)
		if err != nil {
			return err
		}
		v = []byte(s)
	} else if v, err = c.value(k); err != nil {
		return err
	}
	if err := c.sealOne(d, pub, k, v); err != nil {
		return err
	}
	what := "a new value"
	if k.Generated() {
		what = fmt.Sprintf("a new random value (%d characters)", k.Length)
	}
	fmt.Fprintf(c.stdout, "rotated %s: %s sealed; the other keys' ciphertexts are unchanged\n", k, what)
	fmt.Fprintf(c.stdout, "after the commit reaches the cluster: %s\n", generator.RotationNote(c.env, k.Target.Name))
	return nil
}

func (c *secretsCmd) reencrypt([]string) error {
	d, err := c.readDir()
	if err != nil {
		return err
	}
	if len(d.Sealed) == 0 {
		return fmt.Errorf("%s holds no SealedSecret to re-encrypt", c.rel)
	}
	ctrl, err := c.controller()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pemBytes, pub, err := sealing.FetchCert(ctx, ctrl, c.now)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(d.Sealed))
	for n := range d.Sealed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		re, err := sealing.Reencrypt(ctx, ctrl, d.Sealed[n])
		if err != nil {
			return fmt.Errorf("%s: %v", path.Join(c.rel, sealing.FileName(n)), err)
		}
		d.Sealed[n] = re
	}
	d.Cert = pemBytes
	if err := c.write(d); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "re-encrypted %d SealedSecrets of %s with the controller's current key %s; the values are unchanged\n", len(names), c.envName, sealing.Fingerprint(pub))
	return nil
}

func (c *secretsCmd) check(pos []string) error {
	envs := c.platform.Environments
	if len(pos) == 1 {
		envs = []config.Environment{c.env}
	}
	var failed []string
	for i, e := range envs {
		if err := c.selectEnv(string(e.Name)); err != nil {
			return err
		}
		keys, err := generator.SecretKeys(c.platform, c.envName)
		if err != nil {
			return err
		}
		d, err := c.readDir()
		if err != nil {
			return err
		}
		certPath := path.Join(c.rel, sealing.CertFile)
		certNote := "no " + certPath + " (platformctl secrets fetch-cert " + c.envName + ")"
		if d.Cert != nil {
			if cert, err := sealing.Certificate(d.Cert, c.now); err != nil {
				certNote = certPath + ": " + err.Error()
			} else {
				certNote = fmt.Sprintf("sealing key %s, certificate valid until %s", sealing.Fingerprint(cert.PublicKey.(*rsa.PublicKey)), cert.NotAfter.UTC().Format(time.DateOnly))
			}
		}
		r := sealing.Check(keys, d.Sealed)
		if i > 0 {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprintf(c.stdout, "%s (namespace %s): %d of %d keys sealed; %s\n", c.envName, c.env.Namespace, len(r.Sealed), len(keys), certNote)
		sealed := map[string]bool{}
		for _, k := range r.Sealed {
			sealed[k.String()] = true
		}
		tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
		for _, k := range keys {
			who := "operator"
			if k.Generated() {
				who = "generated"
			}
			// A SealedSecret bound to another name, namespace or scope
			// cannot take the key: init and set refuse to merge into it.
			moved := d.Sealed[k.Target.Name] != nil && sealing.Compatible(d.Sealed[k.Target.Name], k.Target) != nil
			fix := "platformctl secrets init " + c.envName
			if !k.Generated() {
				fix = fmt.Sprintf("platformctl secrets set %s %s --from-file <file>", c.envName, k)
			}
			switch {
			case sealed[k.String()]:
				fmt.Fprintf(tw, "  sealed\t%s\t%s\n", k, who)
			case moved:
				fmt.Fprintf(tw, "  MISSING\t%s\t%s\trm %s, then %s\n", k, who, path.Join(c.rel, sealing.FileName(k.Target.Name)), fix)
			default:
				fmt.Fprintf(tw, "  MISSING\t%s\t%s\t%s\n", k, who, fix)
			}
		}
		for _, u := range r.Unreferenced {
			fmt.Fprintf(tw, "  unused\t%s\t\tplatformctl secrets prune %s (no manifest reads it)\n", u, c.envName)
		}
		tw.Flush()
		for _, m := range r.Misplaced {
			fmt.Fprintf(c.stdout, "  WRONG PLACE  %s/%s\n", c.rel, m)
		}
		if err := r.Err(); err != nil {
			failed = append(failed, c.envName+": "+err.Error())
		}
	}
	// Found only by comparing environments: every cluster's, whichever
	// environment was asked for.
	sealed, err := generator.ReadSealed(c.platform, c.dir)
	if err != nil {
		return err
	}
	for _, w := range generator.SealingCertificateMismatches(c.platform, sealed) {
		fmt.Fprintln(c.stderr, "warning:", w)
	}
	if len(pos) == 0 {
		stray, err := generator.StraySecretsDirs(c.platform, c.dir)
		if err != nil {
			return err
		}
		for _, d := range stray {
			fmt.Fprintln(c.stderr, "warning:", generator.StrayWarning(d))
		}
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("secrets check failed: %s", strings.Join(failed, "; "))}
	}
	return nil
}
