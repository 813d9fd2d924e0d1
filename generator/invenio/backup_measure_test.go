package invenio

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMeasureBackup times a backup and a restore check of a test database
// of a realistic shape: BACKUP_MEASURE_RECORDS records of about 2 KB of
// JSON each (half as many parents, a files_files row per record) and
// BACKUP_MEASURE_FILES uploaded files of 200 KB. It runs only when
// BACKUP_MEASURE_RECORDS is set (docs/backup.md has the figures):
//
//	BACKUP_MEASURE_RECORDS=50000 BACKUP_MEASURE_FILES=500 go test ./generator/invenio -run TestMeasureBackup -v -count=1
func TestMeasureBackup(t *testing.T) {
	records, _ := strconv.Atoi(os.Getenv("BACKUP_MEASURE_RECORDS"))
	files, _ := strconv.Atoi(os.Getenv("BACKUP_MEASURE_FILES"))
	if records == 0 {
		t.Skip("set BACKUP_MEASURE_RECORDS (and BACKUP_MEASURE_FILES) to measure")
	}
	r := newScriptRig(t)
	r.schema(0)
	r.pg.Psql(t, "invenio", fmt.Sprintf(`
INSERT INTO rdm_records_metadata (json)
  SELECT jsonb_build_object('id', n, 'metadata', jsonb_build_object('title', 'Dataset ' || n,
    'description', repeat(md5(n::text), 56), 'creators', jsonb_build_array(jsonb_build_object('name', 'Person ' || n))))
  FROM generate_series(1, %[1]d) AS g(n);
INSERT INTO rdm_parents_metadata (json) SELECT '{}' FROM generate_series(1, %[1]d / 2);
INSERT INTO files_files (id, uri, size, checksum)
  SELECT gen_random_uuid(), '/nowhere/' || n, 1, 'sha256:' || md5(n::text) FROM generate_series(1, %[1]d) AS g(n);
`, records))
	chunk := make([]byte, 200<<10)
	for i := 0; i < files; i++ {
		_, _ = rand.Read(chunk)
		r.upload(fmt.Sprintf("%02x-file%d", i%256, i), string(chunk))
	}
	size := r.pg.Psql(t, "invenio", "SELECT pg_size_pretty(pg_database_size('invenio'))")

	dump := filepath.Join(r.dir, "dump")
	start := time.Now()
	r.mustRun("pg-dump.sh", "DUMP_DIR="+dump)
	dumpTook := time.Since(start)
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+dump, "BACKUP_TAG=postgresql", "KEEP_DAILY=30")
	dbTook := time.Since(start)
	start = time.Now()
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+r.files, "BACKUP_TAG=files", "KEEP_DAILY=30")
	filesTook := time.Since(start)
	start = time.Now()
	r.mustRun("restic-backup.sh", "BACKUP_PATH="+r.files, "BACKUP_TAG=files", "KEEP_DAILY=30")
	filesAgain := time.Since(start)
	start = time.Now()
	out, err := r.restoreCheck("measure")
	checkTook := time.Since(start)
	if err != nil || !strings.Contains(out, "restore-check: OK") {
		t.Fatalf("restore check: %v\n%s", err, out)
	}
	st, _ := os.Stat(filepath.Join(dump, "database.dump"))
	t.Logf("database %s (%d records), dump %d MB: pg_dump %s, dump+upload %s", size, records, st.Size()>>20, dumpTook.Round(100*time.Millisecond), dbTook.Round(100*time.Millisecond))
	t.Logf("files: %d × 200 KB: first backup %s, unchanged second backup %s", files, filesTook.Round(100*time.Millisecond), filesAgain.Round(100*time.Millisecond))
	t.Logf("restore check (fetch, pg_restore into a new server, row counts, %s sampled files): %s\n%s", "20", checkTook.Round(100*time.Millisecond), out)
}
