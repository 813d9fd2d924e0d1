package invenio

// The restore Job's scripts run for real here, in the order of the Job's
// containers: Debian's restic on a local repository and a real PostgreSQL
// (internal/pgtest), as in backup_scripts_test.go. The OpenSearch step is
// run against the real node by the run-time harness (make runtime).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// restoreJob runs the restore Job's steps without OpenSearch into database
// db and the files directory, and returns the report's output and status.
func (r *scriptRig) restoreJob(name, db string, between func()) (string, error) {
	r.t.Helper()
	work := r.mkdir("restore-" + name)
	env := []string{"RESULTS=" + filepath.Join(work, "results"), "RESTORE_MARK=" + filepath.Join(work, "restore-this"), "PGDATABASE=" + db}
	fetched := filepath.Join(work, "restore")
	r.mustRun("restore-database.sh", append(env, "MODE=guard")...)
	r.mustRun("restore-files.sh", append(env, "FILES_PATH="+r.files)...)
	r.mustRun("restic-fetch.sh", append(env, "BACKUP_TAG=postgresql", "FETCH_TARGET="+fetched, "ONLY_IF="+filepath.Join(work, "restore-this"))...)
	if between != nil {
		between()
	}
	r.mustRun("restore-database.sh", append(env, "MODE=restore", "DUMP_DIR="+fetched+filepath.Join(r.dir, "dump"), "CHECK_FILES=1")...)
	return r.run("restore-check-report.sh", append(env, "EXPECTED=guard files fetch-postgresql database", "REPORT=restore")...)
}

func TestRestoreIntoEmptyEnvironment(t *testing.T) {
	t.Parallel()
	r := newScriptRig(t)
	r.schema(120)
	r.upload("aa-file1", "first uploaded file")
	r.upload("bb-file2", strings.Repeat("data ", 10000))
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+r.files, "BACKUP_TAG=files", "KEEP_DAILY=3")
	r.dumpAndBackup("", 3)
	want := map[string][]byte{}
	filepath.Walk(r.files, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			want[p], _ = os.ReadFile(p)
		}
		return nil
	})
	// The new environment: its files volume is empty.
	emptyFiles := func() {
		if err := os.RemoveAll(r.files); err != nil {
			t.Fatal(err)
		}
		r.files = r.mkdir("files")
	}

	cases := []struct {
		name      string
		db        string
		prepare   func(db string) // before the Job
		between   func(db string) // after the fetch, before the database step
		ok        bool
		report    []string // lines the report must show
		rows      string   // rdm_records_metadata rows after
		restored  bool     // the files are back, byte for byte
		untouched bool     // the files volume was not written
	}{
		{name: "empty database: everything restored", db: "fresh", ok: true, rows: "120", restored: true,
			report: []string{"PASS guard: the database is empty", "PASS files: snapshot", "PASS database: row counts of", "PASS database: 2 uploaded files match their checksums", "restore: OK"}},
		{name: "database with data: nothing touched", db: "invenio", ok: true, rows: "120", untouched: true,
			report: []string{"nothing restored (an environment with data is never overwritten)", "PASS files: skipped", "PASS fetch-postgresql: skipped", "PASS database: skipped"}},
		{name: "tables made while the restore ran: refused", db: "raced", ok: false, rows: "missing",
			between: func(db string) { r.pg.Psql(t, db, "CREATE TABLE invenio_setup_step (step text)") },
			report:  []string{"FAIL database: the database got 1 tables while the restore ran", "restore: FAILED"}},
		{name: "a restored file differs from its checksum: failed, naming it", db: "rotten", ok: false, rows: "120",
			between: func(string) {
				if err := os.WriteFile(filepath.Join(r.files, "aa", "aa-file1"), []byte("bit rot"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			report: []string{"FAIL database: uploaded files missing or differing from their checksum in files_files: " + filepath.Join(r.files, "aa", "aa-file1"), "restore: FAILED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.db != "invenio" {
				r.pg.CreateDB(t, c.db)
			}
			emptyFiles()
			var between func()
			if c.between != nil {
				between = func() { c.between(c.db) }
			}
			out, err := r.restoreJob(strings.Fields(c.name)[0]+c.db, c.db, between)
			if (err == nil) != c.ok {
				t.Errorf("report exit: %v, want ok=%v\n%s", err, c.ok, out)
			}
			for _, l := range c.report {
				if !strings.Contains(out, l) {
					t.Errorf("the report lacks %q:\n%s", l, out)
				}
			}
			rows := "missing"
			if out, err := r.pg.Command(filepath.Join(r.pg.Bin, "psql"), "-X", "-A", "-t", "-d", c.db, "-c", "SELECT count(*) FROM rdm_records_metadata").Output(); err == nil {
				rows = strings.TrimSpace(string(out))
			}
			if rows != c.rows {
				t.Errorf("rdm_records_metadata rows after: %q, want %q", rows, c.rows)
			}
			for p, b := range want {
				got, err := os.ReadFile(p)
				switch {
				case c.restored && (err != nil || string(got) != string(b)):
					t.Errorf("%s not restored byte for byte (%v)", p, err)
				case c.untouched && err == nil:
					t.Errorf("%s written although the database held data", p)
				}
			}
		})
	}
}
