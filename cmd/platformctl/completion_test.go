package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestComplete: what `platformctl __complete` offers for the words typed
// so far, read from the commands' own flags and the description.
func TestComplete(t *testing.T) {
	dir := fixtureRepo(t, fixture(t)+"  - name: test\n    namespace: invenio-test\n    host: invenio-test.example.org\n")
	for _, c := range []struct {
		words []string
		want  string
	}{
		{[]string{""}, "build check completion diff generate help layers secrets version"},
		{[]string{"check", "-C", dir, "d"}, "dev"},
		{[]string{"check", "-C", dir, "dev", "t"}, "test"},
		{[]string{"check", "--check", "pod"}, "pod-security"},
		{[]string{"check", "--output", ""}, "json text"},
		{[]string{"se"}, "secrets"},
		{[]string{"secrets", ""}, "check fetch-cert help init prune reencrypt rotate set"},
		{[]string{"secrets", "init", "-C", dir, ""}, "dev test"},
		{[]string{"build", "-C", dir, "t"}, "test"},
		{[]string{"build", "-C", dir, "dev", ""}, ""},
		{[]string{"build", "-"}, "-C -f"},
		{[]string{"secrets", "prune", "--"}, "--C --dry-run --f"},
		{[]string{"diff", "--c"}, "--color"},
		{[]string{"diff", "-C", dir, "--env", ""}, "dev test"},
		{[]string{"diff", "--output", ""}, "json markdown text"},
		{[]string{"diff", "--exit-code", ""}, ""},
		{[]string{"generate", "-f", ""}, ":files"},
		{[]string{"generate", "-C", "x"}, ":dirs"},
		{[]string{"secrets", "set", "-C", dir, "dev", "invenio-r"}, "invenio-rabbitmq/password invenio-redis/password"},
		{[]string{"completion", ""}, "bash zsh"},
		{[]string{"nosuch", ""}, ""},
	} {
		var out bytes.Buffer
		if err := complete(c.words, &out); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(strings.Fields(out.String()), " "); got != c.want {
			t.Errorf("__complete %q = %q, want %q", c.words, got, c.want)
		}
	}
}

// TestCompletionScripts: bash and zsh run the scripts `completion`
// prints, with platformctl on PATH, and get the candidates.
func TestCompletionScripts(t *testing.T) {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "platformctl"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, c := range []struct {
		shell, script string
	}{
		{"bash", `source <(platformctl completion bash)
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); _platformctl; echo "${COMPREPLY[*]}"; }
t platformctl sec; t platformctl secrets rotate dev invenio-r; t platformctl diff --output m`},
		{"zsh", `compdef() { :; }; compadd() { shift; print -r -- "$*"; }; _files() { print -r -- "(files)"; }
source <(platformctl completion zsh)
t() { words=("$@"); CURRENT=${#words}; _platformctl; }
t platformctl sec; t platformctl secrets rotate dev invenio-r; t platformctl diff --output m`},
	} {
		t.Run(c.shell, func(t *testing.T) {
			sh, err := exec.LookPath(c.shell)
			if err != nil {
				t.Fatalf("%s is not installed (scripts/test-deps.sh installs it): %v", c.shell, err)
			}
			cmd := exec.Command(sh, "-c", c.script)
			cmd.Dir = fixtureRepo(t, fixture(t))
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			want := "secrets\ninvenio-rabbitmq/password invenio-redis/password\nmarkdown\n"
			if d := cmp.Diff(want, string(out)); d != "" {
				t.Errorf("completions (-want +got):\n%s", d)
			}
		})
	}
}
