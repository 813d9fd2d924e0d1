package invenio

// The restore Job's scripts run for real here, in the order of the Job's
// containers: Debian's restic on a local repository and a real PostgreSQL
// (internal/pgtest), as in backup_scripts_test.go. The OpenSearch step is
// tested against the stand-in (backup_opensearch_test.go) and run against
// the real node by the run-time harness (make runtime).

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// restoreJob runs the restore Job's steps without OpenSearch into database
// db and the files directory, and returns the report's output and status.
// filesEnv is added to the files step's environment; between runs after
// the fetch, before the database step.
func (r *scriptRig) restoreJob(name, db string, filesEnv []string, between func()) (string, error) {
	r.t.Helper()
	work := r.mkdir("restore-" + name)
	env := []string{"RESULTS=" + filepath.Join(work, "results"), "RESTORE_MARK=" + filepath.Join(work, "restore-this"), "PGDATABASE=" + db}
	fetched := filepath.Join(work, "restore")
	r.mustRun("restore-database.sh", append(env, "MODE=guard")...)
	r.mustRun("restore-files.sh", append(append(env, "FILES_PATH="+r.files), filesEnv...)...)
	r.mustRun("restic-fetch.sh", append(env, "BACKUP_TAG=postgresql", "FETCH_TARGET="+fetched, "ONLY_IF="+filepath.Join(work, "restore-this"))...)
	if between != nil {
		between()
	}
	r.mustRun("restore-database.sh", append(env, "MODE=restore", "DUMP_DIR="+fetched+filepath.Join(r.dir, "dump"), "CHECK_FILES=1")...)
	return r.run("restore-check-report.sh", append(env, "EXPECTED=guard files fetch-postgresql database", "REPORT=restore")...)
}

// query runs SQL in db and returns its output, or "missing" when it fails.
func (r *scriptRig) query(db, q string) string {
	out, err := r.pg.Command(filepath.Join(r.pg.Bin, "psql"), "-X", "-A", "-t", "-d", db, "-c", q).Output()
	if err != nil {
		return "missing"
	}
	return strings.TrimSpace(string(out))
}

func TestRestoreIntoEmptyEnvironment(t *testing.T) {
	t.Parallel()
	r := newScriptRig(t)
	r.schema(120)
	// The install record, as setup_state.py keeps it: the restore deletes
	// the release rows (the setup Job writes its own after its upgrade).
	r.pg.Psql(t, "invenio", "CREATE TABLE invenio_setup_step (step text PRIMARY KEY, started timestamptz NOT NULL, ended timestamptz);"+
		"INSERT INTO invenio_setup_step VALUES ('installed', now(), now()), ('release ghcr.io/x/site:v1', now(), now())")
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
	rot := func(string) {
		if err := os.WriteFile(filepath.Join(r.files, "aa", "aa-file1"), []byte("bit rot"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type run struct {
		filesEnv []string
		between  func(db string)
		ok       bool
		report   []string // lines the report must show
		rows     string   // rdm_records_metadata rows after
		record   string   // the install record's rows after, as step:ended
	}
	const restored = "installed:t restore:t"
	cases := []struct {
		name      string
		db        string
		runs      []run // attempts of the Job, one after the other
		restored  bool  // the files are back, byte for byte
		untouched bool  // the files volume was not written
	}{
		{"empty database: everything restored", "fresh", []run{{ok: true, rows: "120", record: restored,
			report: []string{"PASS guard: the database is empty", "PASS files: snapshot", "PASS database: row counts of",
				"PASS database: 2 uploaded files match their checksums", "restore recorded as ended", "restore: OK"}}}, true, false},
		{"database with data: nothing touched but the record", "invenio", []run{{ok: true, rows: "120",
			record: "installed:t release ghcr.io/x/site:v1:t restore:t",
			report: []string{"nothing restored (an environment with data is never overwritten)", "PASS files: skipped", "PASS fetch-postgresql: skipped", "PASS database: skipped"}}}, false, true},
		{"tables made while the restore ran: refused", "raced", []run{{ok: false, rows: "missing", record: "",
			between: func(db string) { r.pg.Psql(t, db, "CREATE TABLE made_meanwhile (id int)") },
			report:  []string{"FAIL database: the database got 1 tables while the restore ran", "restore: FAILED"}}}, false, false},
		{"an earlier step failed: the database stays empty", "nofiles", []run{{filesEnv: []string{"RESTIC_REPOSITORY=" + filepath.Join(r.dir, "nowhere")},
			ok: false, rows: "missing", record: "",
			report: []string{"FAIL files: restic restore", "FAIL database: not restored: step(s) files failed", "restore: FAILED"}}}, false, false},
		{"a restored file differs from its checksum: failed, then the retry restores again", "rotten", []run{
			{between: rot, ok: false, rows: "120", record: "installed:t restore:f",
				report: []string{"FAIL database: uploaded files missing or differing from their checksum in files_files: " + filepath.Join(r.files, "aa", "aa-file1"), "restore: FAILED"}},
			{ok: true, rows: "120", record: restored,
				report: []string{"PASS guard: an earlier attempt's unfinished restore", "restore recorded as ended", "restore: OK"}},
		}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.db != "invenio" {
				r.pg.CreateDB(t, c.db)
			}
			emptyFiles()
			for i, a := range c.runs {
				var between func()
				if a.between != nil {
					between = func() { a.between(c.db) }
				}
				out, err := r.restoreJob(strings.Fields(c.name)[0]+c.db+string(rune('a'+i)), c.db, a.filesEnv, between)
				if (err == nil) != a.ok {
					t.Errorf("attempt %d: report exit %v, want ok=%v\n%s", i+1, err, a.ok, out)
				}
				for _, l := range a.report {
					if !strings.Contains(out, l) {
						t.Errorf("attempt %d: the report lacks %q:\n%s", i+1, l, out)
					}
				}
				if rows := r.query(c.db, "SELECT count(*) FROM rdm_records_metadata"); rows != a.rows {
					t.Errorf("attempt %d: rdm_records_metadata rows after: %q, want %q", i+1, rows, a.rows)
				}
				record := r.query(c.db, "SELECT string_agg(step || ':' || CASE WHEN ended IS NULL THEN 'f' ELSE 't' END, ' ' ORDER BY step) FROM invenio_setup_step")
				if record == "missing" {
					record = ""
				}
				if record != a.record {
					t.Errorf("attempt %d: install record %q, want %q", i+1, record, a.record)
				}
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
