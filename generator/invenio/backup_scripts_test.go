package invenio

// The backup and restore-check scripts run for real here: against a real
// PostgreSQL (internal/pgtest, Debian's server) and Debian's restic on a
// local directory repository — the same script files the CronJobs mount,
// configured through the same environment variables.

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"lbl.gov/invenio-gitops/internal/pgtest"
)

// scriptRig is one throw-away installation: a database with InvenioRDM's
// main tables, an uploaded-files directory and a restic repository.
type scriptRig struct {
	t     *testing.T
	pg    *pgtest.Server
	dir   string // everything below is writable by the user the scripts run as
	files string // the uploaded-files directory
	repo  string
	cred  *syscall.Credential
}

func newScriptRig(t *testing.T) *scriptRig {
	t.Helper()
	if _, err := exec.LookPath("restic"); err != nil {
		t.Fatalf("restic is not installed: run scripts/test-deps.sh (%v)", err)
	}
	r := &scriptRig{t: t, pg: pgtest.Start(t)}
	dir, err := os.MkdirTemp("", "backup-scripts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r.dir = dir
	// PostgreSQL refuses to run as root, and the restore check starts its
	// own server: run the scripts as the postgres user when we are root,
	// as the pods run them as a fixed non-root uid.
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		r.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	r.files = r.mkdir("files")
	r.repo = filepath.Join(dir, "repo")
	r.pg.CreateDB(t, "invenio")
	return r
}

func (r *scriptRig) mkdir(name string) string {
	p := filepath.Join(r.dir, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.own(p)
	return p
}

func (r *scriptRig) own(p string) {
	if r.cred != nil {
		if err := os.Chown(p, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			r.t.Fatal(err)
		}
	}
}

// writeFile stores an uploaded file and records it in files_files with the
// md5 checksum InvenioRDM keeps.
func (r *scriptRig) upload(name, content string) string {
	dir := r.mkdir(filepath.Join("files", name[:2]))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.own(p)
	sum := md5.Sum([]byte(content))
	r.pg.Psql(r.t, "invenio", fmt.Sprintf("INSERT INTO files_files (id, uri, size, checksum) VALUES (gen_random_uuid(), '%s', %d, 'md5:%s')",
		p, len(content), hex.EncodeToString(sum[:])))
	return p
}

// run executes a script with the libpq, restic and step environment; it
// returns the combined output and the exit status.
func (r *scriptRig) run(script string, env ...string) (string, error) {
	r.t.Helper()
	cmd := exec.Command("sh", filepath.Join("scripts", script))
	cmd.Env = append(os.Environ(), r.pg.Env()...)
	cmd.Env = append(cmd.Env,
		"PATH="+r.pg.Bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+r.dir,
		"RESTIC_REPOSITORY="+r.repo,
		"RESTIC_PASSWORD=correct horse battery staple",
		"RESTIC_CACHE_DIR="+filepath.Join(r.dir, "cache"),
		"BACKUP_HOST=test",
		"PGDATABASE=invenio",
		"MAIN_TABLES="+strings.Join(MainTables, " "),
		"INVENIO_VERSION=v12.0.10-test",
	)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (r *scriptRig) mustRun(script string, env ...string) string {
	r.t.Helper()
	out, err := r.run(script, env...)
	if err != nil {
		r.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// schema creates the main tables (real v12 names; only the columns the
// scripts read matter) and some rows.
func (r *scriptRig) schema(records int) {
	var b strings.Builder
	for _, t := range MainTables {
		if t == "files_files" {
			b.WriteString("CREATE TABLE files_files (id uuid PRIMARY KEY, uri text, size bigint, checksum text);\n")
			continue
		}
		fmt.Fprintf(&b, "CREATE TABLE %s (id serial PRIMARY KEY, json jsonb);\n", t)
	}
	fmt.Fprintf(&b, "INSERT INTO rdm_records_metadata (json) SELECT jsonb_build_object('title', 'record ' || g, 'n', g) FROM generate_series(1, %d) g;\n", records)
	fmt.Fprintf(&b, "INSERT INTO rdm_parents_metadata (json) SELECT '{}' FROM generate_series(1, %d) g;\n", (records+1)/2)
	b.WriteString("INSERT INTO accounts_user (json) VALUES ('{}'), ('{}');\n")
	r.pg.Psql(r.t, "invenio", b.String())
}

type resticSnapshot struct {
	Time  time.Time `json:"time"`
	Paths []string  `json:"paths"`
	Tags  []string  `json:"tags"`
}

func (r *scriptRig) snapshots(tag string) []resticSnapshot {
	r.t.Helper()
	cmd := exec.Command("restic", "snapshots", "--json", "--tag", tag, "--no-cache")
	cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+r.repo, "RESTIC_PASSWORD=correct horse battery staple")
	out, err := cmd.Output()
	if err != nil {
		r.t.Fatalf("restic snapshots: %v", err)
	}
	var s []resticSnapshot
	if err := json.Unmarshal(out, &s); err != nil {
		r.t.Fatal(err)
	}
	return s
}

func manifestValue(t *testing.T, manifest, key string) string {
	t.Helper()
	for _, l := range strings.Split(manifest, "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			return v
		}
	}
	t.Fatalf("manifest has no %s:\n%s", key, manifest)
	return ""
}

// restoreCheck runs the restore-check steps in the order of the pod's
// containers and returns the report's output and exit status.
func (r *scriptRig) restoreCheck(name string) (string, error) {
	r.t.Helper()
	work := r.mkdir("check-" + name)
	results := filepath.Join(work, "results") // the first step creates it
	restored := filepath.Join(work, "restore")
	dumpDir := filepath.Join(r.dir, "dump") // the path the backup was taken from
	r.mustRun("restic-fetch.sh", "BACKUP_TAG=postgresql", "FETCH_TARGET="+restored, "RESULTS="+results)
	r.mustRun("restore-check-database.sh", "DUMP_DIR="+restored+dumpDir, "SCRATCH="+r.mkdir("check-"+name+"/scratch"),
		"SAMPLE_FILES=20", "SAMPLE_LIST="+filepath.Join(work, "sample"), "RESULTS="+results)
	r.mustRun("restore-check-files.sh", "SAMPLE_LIST="+filepath.Join(work, "sample"), "RESULTS="+results)
	return r.run("restore-check-report.sh", "RESULTS="+results, "EXPECTED=fetch-postgresql database files")
}

func (r *scriptRig) dumpAndBackup(when string, keep int) string {
	r.t.Helper()
	dump := filepath.Join(r.dir, "dump")
	r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+dump, "BACKUP_TAG=postgresql", fmt.Sprintf("KEEP_DAILY=%d", keep), "BACKUP_TIME="+when)
	return dump
}

func TestPostgreSQLBackupRetentionAndRestoreCheck(t *testing.T) {
	t.Parallel()
	r := newScriptRig(t)
	r.schema(500)
	r.upload("aa-file1", "first uploaded file")
	r.upload("bb-file2", strings.Repeat("data ", 10000))

	// A dump with its manifest.
	dump := filepath.Join(r.dir, "dump")
	out := r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
	if !strings.Contains(out, "pg-dump: OK") {
		t.Errorf("pg-dump.sh did not report OK:\n%s", out)
	}
	m, err := os.ReadFile(filepath.Join(dump, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := string(m)
	d, _ := os.ReadFile(filepath.Join(dump, "database.dump"))
	for key, want := range map[string]string{
		"rows.rdm_records_metadata": "500",
		"rows.rdm_parents_metadata": "250",
		"rows.files_files":          "2",
		"rows.accounts_user":        "2",
		"size":                      strconv.Itoa(len(d)),
		"invenio_version":           "v12.0.10-test",
		"database":                  "invenio",
	} {
		if got := manifestValue(t, manifest, key); got != want {
			t.Errorf("manifest %s = %q, want %q", key, got, want)
		}
	}
	if v := manifestValue(t, manifest, "postgresql_version"); !strings.HasPrefix(v, "15") {
		t.Errorf("postgresql_version = %q, want the server's 15.x", v)
	}
	if v := manifestValue(t, manifest, "sha256"); len(v) != 64 {
		t.Errorf("sha256 = %q", v)
	}

	// Retention: four daily backups with KEEP_DAILY=3 keep the newest three.
	for _, day := range []string{"2026-11-01 02:00:00", "2026-11-02 02:00:00", "2026-11-03 02:00:00", "2026-11-04 02:00:00"} {
		r.dumpAndBackup(day, 3)
	}
	snaps := r.snapshots("postgresql")
	if len(snaps) != 3 {
		t.Fatalf("%d snapshots after 4 daily backups with KEEP_DAILY=3, want 3", len(snaps))
	}
	for _, s := range snaps {
		if s.Time.Day() == 1 {
			t.Errorf("the oldest backup (Nov 1) was kept: %v", s.Time)
		}
	}

	// A failed backup deletes nothing, even with a retention of one.
	if out, err := r.run("restic-backup.sh", "BACKUP_PATH="+filepath.Join(r.dir, "missing"), "BACKUP_TAG=postgresql", "KEEP_DAILY=1"); err == nil {
		t.Errorf("a backup of a missing directory succeeded:\n%s", out)
	}
	if n := len(r.snapshots("postgresql")); n != 3 {
		t.Errorf("%d snapshots after a failed backup, want the 3 good ones", n)
	}
	// A dump of a database that is not there fails (and so never reaches the upload).
	if out, err := r.run("pg-dump.sh", "DUMP_DIR="+filepath.Join(r.dir, "dump-missing"), "PGDATABASE=missing"); err == nil {
		t.Errorf("pg-dump.sh of a missing database succeeded:\n%s", out)
	}

	// Files backup, then the restore check of the newest backups passes.
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+r.files, "BACKUP_TAG=files", "KEEP_DAILY=3")
	start := time.Now()
	out, err = r.restoreCheck("good")
	if err != nil || !strings.Contains(out, "restore-check: OK") {
		t.Fatalf("restore check of a good backup: %v\n%s", err, out)
	}
	t.Logf("restore check of a good backup (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"PASS database: row counts of 12 main tables equal the manifest", "PASS files: 2 sampled files match"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore check output lacks %q:\n%s", want, out)
		}
	}

	// The negative cases: each breaks one thing and the check must fail on it.
	cases := []struct {
		name, want string
		breakIt    func()
	}{
		{"corrupted-dump", "FAIL database: the dump's checksum", func() {
			r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
			p := filepath.Join(dump, "database.dump")
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r.mustRun("restic-backup.sh", "BACKUP_PATH="+dump, "BACKUP_TAG=postgresql", "KEEP_DAILY=3")
		}},
		{"row-count", "FAIL database: row counts differ from the manifest (table:restored/manifest): rdm_records_metadata:500/501", func() {
			r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
			p := filepath.Join(dump, "manifest")
			b, _ := os.ReadFile(p)
			b = bytes.Replace(b, []byte("rows.rdm_records_metadata=500"), []byte("rows.rdm_records_metadata=501"), 1)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r.mustRun("restic-backup.sh", "BACKUP_PATH="+dump, "BACKUP_TAG=postgresql", "KEEP_DAILY=3")
		}},
		{"corrupted-file", "FAIL files: checksum differs from files_files for: " + filepath.Join(r.files, "aa", "aa-file1"), func() {
			r.dumpAndBackup("", 3)
			if err := os.WriteFile(filepath.Join(r.files, "aa", "aa-file1"), []byte("bit rot"), 0o644); err != nil {
				t.Fatal(err)
			}
			r.mustRun("restic-backup.sh", "BACKUP_PATH="+r.files, "BACKUP_TAG=files", "KEEP_DAILY=3")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.breakIt()
			out, err := r.restoreCheck(c.name)
			if err == nil {
				t.Errorf("restore check passed:\n%s", out)
			}
			if !strings.Contains(out, c.want) || !strings.Contains(out, "restore-check: FAILED") {
				t.Errorf("restore check output lacks %q and the FAILED summary:\n%s", c.want, out)
			}
		})
	}
}

// TestRestoreCheckReportNeedsEveryStep: a step that never reported (its
// container died) fails the check even when the others passed.
func TestRestoreCheckReportNeedsEveryStep(t *testing.T) {
	t.Parallel()
	results := t.TempDir()
	if err := os.WriteFile(filepath.Join(results, "fetch-postgresql"), []byte("PASS fetch-postgresql: snapshot x restored\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		expected string
		ok       bool
	}{{"fetch-postgresql", true}, {"fetch-postgresql database", false}} {
		cmd := exec.Command("sh", "scripts/restore-check-report.sh")
		cmd.Env = append(os.Environ(), "RESULTS="+results, "EXPECTED="+c.expected)
		out, err := cmd.CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("EXPECTED=%q: exit error %v, want ok=%v\n%s", c.expected, err, c.ok, out)
		}
		if !c.ok && !strings.Contains(string(out), "no report from: database") {
			t.Errorf("EXPECTED=%q: summary does not name the silent step:\n%s", c.expected, out)
		}
	}
}

// TestRunbookDatabaseRestore runs the database restore of docs/backup.md:
// pg_restore --clean --if-exists --no-owner of a dump, read from stdin,
// into the live database after rows were lost, brings back the counts of
// the manifest.
func TestRunbookDatabaseRestore(t *testing.T) {
	t.Parallel()
	r := newScriptRig(t)
	r.schema(300)
	dump := filepath.Join(r.dir, "dump")
	r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
	r.pg.Psql(t, "invenio", "DELETE FROM rdm_records_metadata WHERE id > 100; DROP TABLE accounts_user;")
	f, err := os.Open(filepath.Join(dump, "database.dump"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := r.pg.Command(filepath.Join(r.pg.Bin, "pg_restore"), "--clean", "--if-exists", "--no-owner", "--exit-on-error", "--dbname=invenio")
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	m, _ := os.ReadFile(filepath.Join(dump, "manifest"))
	for _, table := range []string{"rdm_records_metadata", "accounts_user", "rdm_parents_metadata"} {
		want := manifestValue(t, string(m), "rows."+table)
		if got := r.pg.Psql(t, "invenio", "SELECT count(*) FROM "+table); got != want {
			t.Errorf("%s: %s rows after the restore, the manifest says %s", table, got, want)
		}
	}
}

// TestScriptsRunAsUidWithoutName: the backup pods run as uid 1000, which the
// postgres image's /etc/passwd does not know; pg_dump and psql must not
// need a user name (PGUSER names the role).
func TestScriptsRunAsUidWithoutName(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run as a uid without a passwd entry")
	}
	const uid = 54321
	if _, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		t.Skipf("uid %d has a passwd entry here", uid)
	}
	r := newScriptRig(t)
	r.schema(10)
	if err := os.Chmod(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(r.dir, "nameless")
	if err := os.MkdirAll(dump, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dump, uid, uid); err != nil {
		t.Fatal(err)
	}
	r.cred = &syscall.Credential{Uid: uid, Gid: uid}
	out, err := r.run("pg-dump.sh", "DUMP_DIR="+dump, "PGUSER="+r.pg.User, "HOME=/nonexistent")
	if err != nil || !strings.Contains(out, "pg-dump: OK") {
		t.Fatalf("pg-dump.sh as uid %d: %v\n%s", uid, err, out)
	}
	// restic too: its cache and repository are where the variables say.
	work := filepath.Join(r.dir, "nameless-restic")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, uid, uid); err != nil {
		t.Fatal(err)
	}
	out, err = r.run("restic-backup.sh", "BACKUP_PATH="+dump, "BACKUP_TAG=postgresql", "KEEP_DAILY=3", "HOME=/nonexistent",
		"RESTIC_REPOSITORY="+filepath.Join(work, "repo"), "RESTIC_CACHE_DIR="+filepath.Join(work, "cache"))
	if err != nil || !strings.Contains(out, "1 snapshots kept") {
		t.Fatalf("restic-backup.sh as uid %d: %v\n%s", uid, err, out)
	}
}
