package invenio

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"lbl.gov/invenio-gitops/internal/pgtest"
)

// TestSetupStateReadsTheInstallRecord runs the setup Job's install record
// (scripts/setup_state.py) against a real PostgreSQL: which databases are a
// new installation, an unfinished one, an installed one, and which are not
// reachable (an error, never a new installation). The install itself runs
// on the real InvenioRDM in make runtime (TestEnvironments: every step
// killed once and resumed).
func TestSetupStateReadsTheInstallRecord(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import sqlalchemy, psycopg2").Run(); err != nil {
		t.Fatalf("Debian's python3 with SQLAlchemy and psycopg2 (scripts/test-deps.sh installs them): %v", err)
	}
	s := pgtest.Start(t)
	state := func(db string, args ...string) (string, int) {
		cmd := exec.Command("/usr/bin/python3", append([]string{"scripts/setup_state.py"}, args...)...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("INVENIO_SQLALCHEMY_DATABASE_URI=postgresql+psycopg2://%s@/%s?host=%s&port=%d", s.User, db, s.Host, s.Port))
		out, err := cmd.CombinedOutput()
		code := 0
		if x, ok := err.(*exec.ExitError); ok {
			code = x.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out)), code
	}
	legacy := `CREATE TABLE alembic_version (version_num varchar(32));
		CREATE TABLE accounts_role (id varchar(80), name varchar(80));
		CREATE TABLE vocabularies_types (id varchar(255));`
	tests := []struct {
		name   string
		sql    string   // the database before
		steps  []string // state commands run before status
		status string
		code   int
	}{
		{name: "empty database", status: "new"},
		{name: "steps recorded, install not ended", steps: []string{"started database", "finished database", "started roles"}, status: "resume"},
		{name: "install ended", steps: []string{"started database", "finished database", "finished installed"}, status: "installed"},
		{name: "tables of a setup that kept no record, vocabularies loaded",
			sql: legacy + `INSERT INTO accounts_role VALUES ('admin', 'admin'); INSERT INTO vocabularies_types VALUES ('resourcetypes');`, status: "installed"},
		{name: "tables of a setup that kept no record, died before the vocabularies",
			sql: legacy + `INSERT INTO accounts_role VALUES ('admin', 'admin');`, status: "resume"},
		{name: "alembic_version only (db create ended, nothing after)", sql: "CREATE TABLE alembic_version (version_num varchar(32));", status: "resume"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := fmt.Sprintf("db%d", i)
			s.CreateDB(t, db)
			if tt.sql != "" {
				s.Psql(t, db, tt.sql)
			}
			for _, st := range tt.steps {
				if out, code := state(db, strings.Fields(st)...); code != 0 {
					t.Fatalf("%s: exit %d: %s", st, code, out)
				}
			}
			if got, code := state(db, "status"); got != tt.status || code != tt.code {
				t.Errorf("status = %q (exit %d), want %q (exit %d)", got, code, tt.status, tt.code)
			}
			// A second look gives the same answer (the first may have made
			// the record's table).
			if got, _ := state(db, "status"); got != tt.status {
				t.Errorf("second status = %q, want %q", got, tt.status)
			}
		})
	}

	t.Run("steps", func(t *testing.T) {
		s.CreateDB(t, "steps")
		state("steps", "status")
		check := func(query, step string, want int) {
			t.Helper()
			if _, code := state("steps", query, step); code != want {
				t.Errorf("%s %s: exit %d, want %d", query, step, code, want)
			}
		}
		check("ended", "indices", 1)
		check("interrupted", "indices", 1)
		state("steps", "started", "indices")
		check("ended", "indices", 1)
		check("interrupted", "indices", 0)
		state("steps", "finished", "indices")
		check("ended", "indices", 0)
		check("interrupted", "indices", 1)
		// A step started again (a resumed one) is not ended until it ends again.
		state("steps", "started", "indices")
		check("ended", "indices", 1)
		check("interrupted", "indices", 0)
	})

	t.Run("release", func(t *testing.T) {
		// The application pods' init container waits until the Job has
		// recorded their image, and no longer.
		s.CreateDB(t, "release")
		state("release", "status")
		image := "ghcr.io/example/site:v12.0.10-1"
		cmd := exec.Command("/usr/bin/python3", "scripts/setup_state.py", "wait-release", image)
		cmd.Env = append(os.Environ(), fmt.Sprintf("INVENIO_SQLALCHEMY_DATABASE_URI=postgresql+psycopg2://%s@/release?host=%s&port=%d", s.User, s.Host, s.Port))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Fatalf("wait-release ended before the release was recorded: %v\n%s", err, out.String())
		case <-time.After(3 * time.Second):
		}
		state("release", "released", "ghcr.io/example/site:v12.0.9") // another release
		select {
		case err := <-done:
			t.Fatalf("wait-release ended on another release's record: %v\n%s", err, out.String())
		case <-time.After(6 * time.Second):
		}
		state("release", "released", image)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wait-release: %v\n%s", err, out.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("wait-release still waiting 15 s after the release was recorded:\n%s", out.String())
		}
		if !strings.Contains(out.String(), "waiting") || !strings.Contains(out.String(), image+" is in place") {
			t.Errorf("wait-release said:\n%s", out.String())
		}
	})

	t.Run("missing database", func(t *testing.T) {
		// "invenio db init" makes it: a new installation, and a start that
		// has nowhere to be recorded yet is not an error.
		if got, code := state("nosuchdb", "status"); got != "new" || code != 0 {
			t.Errorf("status = %q (exit %d), want new", got, code)
		}
		if out, code := state("nosuchdb", "started", "database"); code != 0 {
			t.Errorf("started database: exit %d: %s", code, out)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		cmd := exec.Command("/usr/bin/python3", "scripts/setup_state.py", "status")
		cmd.Env = append(os.Environ(), fmt.Sprintf("INVENIO_SQLALCHEMY_DATABASE_URI=postgresql+psycopg2://%s@/db0?host=%s&port=%d", s.User, t.TempDir(), s.Port))
		out, err := cmd.CombinedOutput()
		if x, ok := err.(*exec.ExitError); !ok || x.ExitCode() != 1 {
			t.Fatalf("status with no server: %v, want exit 1\n%s", err, out)
		}
		if !strings.Contains(string(out), "cannot reach the database") || strings.Contains(string(out), "\nnew") {
			t.Errorf("status with no server: %s", out)
		}
	})
}
