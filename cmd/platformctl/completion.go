package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/check"
)

const completionUsage = `usage: platformctl completion bash|zsh

Prints a script that makes the shell complete platformctl's commands, flags,
environment names and secret keys (read from the description as the
command line names it, -f and -C included):

  source <(platformctl completion bash)     # bash, e.g. in ~/.bashrc
  source <(platformctl completion zsh)      # zsh, after compinit

The script asks platformctl itself (platformctl __complete …), so it never
goes stale.
`

// The scripts hand the words typed so far to `platformctl __complete`,
// which prints one candidate a line, or ":files" / ":dirs" for the shell's
// own completion of paths.
const bashCompletion = `# bash completion for platformctl (platformctl completion bash)
_platformctl() {
	local cur="${COMP_WORDS[COMP_CWORD]}" out
	out=$(platformctl __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) || return
	case "$out" in
	:files) COMPREPLY=($(compgen -f -- "$cur")) ;;
	:dirs) COMPREPLY=($(compgen -d -- "$cur")) ;;
	*) COMPREPLY=($(compgen -W "$out" -- "$cur")) ;;
	esac
}
complete -F _platformctl platformctl
`

const zshCompletion = `#compdef platformctl
# zsh completion for platformctl (platformctl completion zsh)
_platformctl() {
	local -a out
	out=("${(@f)$(platformctl __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	case "$out[1]" in
	:files) _files ;;
	:dirs) _files -/ ;;
	*) compadd -- "${(@)out:#}" ;;
	esac
}
compdef _platformctl platformctl
`

func runCompletion(args []string, stdout io.Writer) error {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, completionUsage)
		return nil
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") && a != "-h" && a != "--help" {
			return fmt.Errorf("completion: flag provided but not defined: %s (completion takes no flags)\n%s", a, completionUsage)
		}
	}
	if len(args) != 1 {
		return fmt.Errorf("completion takes one shell, bash or zsh, got %q\n%s", args, completionUsage)
	}
	switch args[0] {
	case "bash":
		fmt.Fprint(stdout, bashCompletion)
	case "zsh":
		fmt.Fprint(stdout, zshCompletion)
	default:
		return fmt.Errorf("completion: shell %q: write bash or zsh\n%s", args[0], completionUsage)
	}
	return nil
}

// commands and secretsCommands are what the first and second word
// complete to.
var (
	commands        = []string{"build", "check", "completion", "diff", "generate", "help", "layers", "secrets", "version"}
	secretsCommands = []string{"check", "fetch-cert", "help", "init", "prune", "reencrypt", "rotate", "set"}
)

// capture, when set, receives the flag set a command is about to parse,
// and the command then stops as if asked for help, before doing anything:
// completion reads the commands' own flags that way.
var capture func(*flag.FlagSet)

// flagsOf is the flag set the command of words (the words after
// platformctl up to the command, "secrets init" for instance) parses, as
// the command itself defines it; nil for a command without flags.
func flagsOf(words []string) *flag.FlagSet {
	var fs *flag.FlagSet
	capture = func(f *flag.FlagSet) { fs = f }
	defer func() { capture = nil }()
	_ = run(words, io.Discard, io.Discard)
	return fs
}

// complete is `platformctl __complete <words>`: the candidates for the
// last of words (the words after platformctl; the last may be empty),
// one a line; ":files" or ":dirs" where the shell completes a path.
func complete(words []string, stdout io.Writer) error {
	if len(words) == 0 {
		words = []string{""}
	}
	cur, before := words[len(words)-1], words[:len(words)-1]
	var cands []string
	switch {
	case len(before) == 0:
		cands = commands
	case before[0] == "completion" && len(before) == 1:
		cands = []string{"bash", "zsh"}
	case before[0] == "secrets" && len(before) == 1:
		cands = secretsCommands
	default:
		cmd := before[:1]
		if before[0] == "secrets" {
			cmd = before[:2]
		}
		fs := flagsOf(cmd)
		if fs == nil {
			return nil
		}
		cands = completeArgs(fs, cmd, before[len(cmd):], cur)
	}
	for _, c := range cands {
		if strings.HasPrefix(c, cur) || strings.HasPrefix(c, ":") {
			fmt.Fprintln(stdout, c)
		}
	}
	return nil
}

// completeArgs completes cur after args of command cmd, whose flags are fs.
func completeArgs(fs *flag.FlagSet, cmd, args []string, cur string) []string {
	if strings.HasPrefix(cur, "-") {
		var out []string
		// Go's flags take one dash or two: one-letter ones are written
		// with one, unless the word has two already.
		fs.VisitAll(func(f *flag.Flag) {
			if len(f.Name) == 1 && !strings.HasPrefix(cur, "--") {
				out = append(out, "-"+f.Name)
			} else {
				out = append(out, "--"+f.Name)
			}
		})
		sort.Strings(out)
		return out
	}
	// The flag before cur, when it takes a value, decides.
	if n := len(args); n > 0 && strings.HasPrefix(args[n-1], "-") && !strings.Contains(args[n-1], "=") {
		if f := fs.Lookup(strings.TrimLeft(args[n-1], "-")); f != nil && !isBool(f) {
			switch f.Name {
			case "C":
				return []string{":dirs"}
			case "env":
				return envNames(fs, args[:n-1])
			case "output":
				if cmd[0] == "check" {
					return []string{"json", "text"}
				}
				return []string{"json", "markdown", "text"}
			case "check":
				return checkNames()
			case "color":
				return []string{"always", "auto", "never"}
			}
			return []string{":files"}
		}
	}
	// Positional arguments: the flags among args parsed away.
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil
	}
	switch strings.Join(cmd, " ") {
	case "check":
		return envNames(fs, nil)
	case "build", "secrets check", "secrets fetch-cert", "secrets init", "secrets prune", "secrets reencrypt":
		if len(pos) == 0 {
			return envNames(fs, nil)
		}
	case "secrets set", "secrets rotate":
		switch len(pos) {
		case 0:
			return envNames(fs, nil)
		case 1:
			return secretKeys(fs, pos[0])
		}
	}
	return nil
}

// checkNames is every check family and ID, as check --check takes them.
func checkNames() []string {
	out := append([]string{generator.DecodeCheck}, check.Families...)
	for _, c := range check.Checks() {
		out = append(out, c.ID)
	}
	sort.Strings(out)
	return out
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// describedBy is the description the parsed flags of fs name (-f read
// from -C, as the commands read it); nil when it does not load.
func describedBy(fs *flag.FlagSet) *repoFlags {
	r := &repoFlags{file: "platform.yaml", dir: "."}
	if f := fs.Lookup("f"); f != nil {
		r.file = f.Value.String()
	}
	if f := fs.Lookup("C"); f != nil {
		r.dir = f.Value.String()
	}
	return r
}

// envNames are the environments of the description fs names (after
// parsing args, which may set -f and -C).
func envNames(fs *flag.FlagSet, args []string) []string {
	if _, err := parseInterleaved(fs, args); err != nil {
		return nil
	}
	p, err := describedBy(fs).load()
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range p.Environments {
		out = append(out, string(e.Name))
	}
	return out
}

// secretKeys are the <secret>/<key> the manifests of env read.
func secretKeys(fs *flag.FlagSet, env string) []string {
	p, err := describedBy(fs).load()
	if err != nil {
		return nil
	}
	keys, err := generator.SecretKeys(p, env)
	if err != nil {
		return nil
	}
	var out []string
	for _, k := range keys {
		out = append(out, k.String())
	}
	return out
}
