package invenio

// The postStart hooks that apply the sealed passwords run for real here:
// PostgreSQL's against a real server (internal/pgtest), RabbitMQ's against
// a stand-in rabbitmqctl that records its calls.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"lbl.gov/invenio-gitops/internal/pgtest"
)

// hookScript is a hook as the container runs it, its output sent to the
// test instead of the container's PID 1.
func hookScript(t *testing.T, script string) string {
	t.Helper()
	const toPID1 = "exec >/proc/1/fd/1 2>&1\n"
	if !strings.HasPrefix(script, toPID1) {
		t.Fatalf("hook does not start by sending its output to the container log:\n%s", script)
	}
	return "exec 2>&1\n" + strings.TrimPrefix(script, toPID1)
}

// stubs writes executables into a new directory for the front of PATH.
func stubs(t *testing.T, scripts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPostgresHookAppliesThePassword: against a running server the hook
// sets the role's password and exits 0; with no server it retries, then
// exits non-zero so that the kubelet restarts the container.
func TestPostgresHookAppliesThePassword(t *testing.T) {
	for _, want := range []string{`--username="$POSTGRES_USER" --dbname=postgres --quiet`, "seq 1 300", "exit 1\n"} {
		if !strings.Contains(postgresApplyPassword, want) {
			t.Errorf("hook lacks %q", want)
		}
	}
	s := pgtest.Start(t)
	run := func(host string, path ...string) (string, error) {
		cmd := s.Command("sh", "-c", hookScript(t, strings.ReplaceAll(postgresApplyPassword, "/var/run/postgresql", host)))
		cmd.Env = append(cmd.Env, "POSTGRES_USER="+s.User, `POSTGRES_PASSWORD=p'w"$;x`,
			"PATH="+strings.Join(append(path, s.Bin, os.Getenv("PATH")), string(os.PathListSeparator)))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	rolpassword := "SELECT coalesce(rolpassword, 'none') FROM pg_authid WHERE rolname = current_user"
	if got := s.Psql(t, "postgres", rolpassword); got != "none" {
		t.Fatalf("the role has a password before the hook: %s", got)
	}
	out, err := run(s.Host)
	if err != nil {
		t.Fatalf("hook against a running server: %v\n%s", err, out)
	}
	if !strings.Contains(out, "password of role "+s.User+" applied") {
		t.Errorf("hook output: %s", out)
	}
	if got := s.Psql(t, "postgres", rolpassword); !strings.HasPrefix(got, "SCRAM-SHA-256$") {
		t.Errorf("rolpassword after the hook: %s", got)
	}

	// No server: every try fails (sleep is a no-op here), then exit 1.
	fast := stubs(t, map[string]string{"sleep": "exit 0\n"})
	out, err = run(t.TempDir(), fast)
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 {
		t.Fatalf("hook without a server: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(out, "could not apply the password of role "+s.User+" in 300 tries") {
		t.Errorf("hook output without a server: %s", out)
	}
}

// TestRabbitMQHookAppliesThePassword: the hook waits for the Erlang VM
// (PID 1) to run the broker, retries change_password, and exits non-zero
// when the broker does not start or the password cannot be changed.
func TestRabbitMQHookAppliesThePassword(t *testing.T) {
	for _, c := range []struct {
		name        string
		waitFails   bool
		changeFails int // failed change_password calls before one succeeds
		wantExit    int
		wantCalls   []string
		wantOutput  string
	}{
		{"started", false, 0, 0, []string{"wait --pid 1 --timeout 300", "change_password invenio s3cr'et"}, "password of user invenio applied"},
		{"change retried", false, 2, 0, []string{"wait --pid 1 --timeout 300", "change_password invenio s3cr'et", "change_password invenio s3cr'et", "change_password invenio s3cr'et"}, "password of user invenio applied"},
		{"never started", true, 0, 1, []string{"wait --pid 1 --timeout 300"}, "could not apply the password of user invenio: RabbitMQ did not start within 300 s"},
		{"change always fails", false, 100, 1, append([]string{"wait --pid 1 --timeout 300"}, strings.Split(strings.Repeat("change_password invenio s3cr'et\n", 10), "\n")[:10]...), "could not apply the password of user invenio: change_password failed 10 times"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			waitRC := map[bool]string{true: "1", false: "0"}[c.waitFails]
			bin := stubs(t, map[string]string{
				"sleep": "exit 0\n",
				"rabbitmqctl": `echo "$*" >> "` + calls + `"
case "$1" in
wait) exit ` + waitRC + ` ;;
change_password)
  n=$(grep -c '^change_password' "` + calls + `")
  [ "$n" -gt ` + strconv.Itoa(c.changeFails) + ` ] || { echo "Error: unable to perform an operation on node" >&2; exit 69; } ;;
esac
`,
			})
			cmd := exec.Command("sh", "-c", hookScript(t, rabbitmqApplyPassword))
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"RABBITMQ_DEFAULT_USER=invenio", "RABBITMQ_DEFAULT_PASS=s3cr'et")
			out, err := cmd.CombinedOutput()
			exit := 0
			if e, ok := err.(*exec.ExitError); ok {
				exit = e.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != c.wantExit || !strings.Contains(string(out), c.wantOutput) {
				t.Errorf("exit %d, output %q; want exit %d and %q", exit, out, c.wantExit, c.wantOutput)
			}
			b, _ := os.ReadFile(calls)
			if got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n"); strings.Join(got, "|") != strings.Join(c.wantCalls, "|") {
				t.Errorf("rabbitmqctl calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.wantCalls, "\n"))
			}
		})
	}
}
