package invenio_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/generator/invenio"
	"lbl.gov/invenio-gitops/internal/pgtest"
)

// runReport loads the v12 tables and the fixture into a fresh database and
// runs the report exactly as the CronJob does (same SQL, same psql
// arguments) plus extra output flags.
func runReport(t *testing.T, s *pgtest.Server, db string, top int, extra ...string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "largest-files.sql")
	if err := os.WriteFile(file, []byte(invenio.LargestFilesSQL), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{"-d", db}, invenio.LargestFilesArgs(file, top)...), extra...)
	cmd := s.Command(filepath.Join(s.Bin, "psql"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func loadFixture(t *testing.T, s *pgtest.Server, db string) {
	t.Helper()
	s.CreateDB(t, db)
	for _, f := range []string{"testdata/inveniordm-v12-files-schema.sql", "testdata/largest-files-fixture.sql"} {
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s.Psql(t, db, string(sql))
	}
}

// TestLargestFilesReport runs the report's query on a real PostgreSQL
// loaded with the v12 tables and a fixture: files in several communities,
// a record in none, two versions sharing a stored file, a deleted record,
// a draft and a deleted community. The ranking overall and per community is pinned.
func TestLargestFilesReport(t *testing.T) {
	s := pgtest.Start(t)
	loadFixture(t, s, "invenio")
	got := runReport(t, s, "invenio", 3, "--no-align", "--tuples-only", "--field-separator=|")
	// community|rank|bytes|size|record|file|owner|uploaded
	want := strings.Join([]string{
		// Overall: carol's record in no community leads; the 50 GB file of
		// the deleted record and the 30 GB draft file are not there;
		// detector.h5 counts once (two versions store one file) and, tied
		// with era5.nc at 5 GB, comes first as the earlier upload.
		"(all)|1|20000000000|19 GB|archi-ve001|huge.zip|carol@lbl.gov|2024-04-01 10:00",
		"(all)|2|8000000000|7629 MB|simul-ation|sim.tar|bob@lbl.gov|2024-03-15 08:00",
		"(all)|3|5000000000|4768 MB|detec-tor02|detector.h5|alice@lbl.gov|2024-01-10 09:00",
		// climate: alice's record (also in physics) and dave's; bob's
		// deleted record is left out.
		"climate|1|5000000000|4768 MB|detec-tor02|detector.h5|alice@lbl.gov|2024-01-10 09:00",
		"climate|2|5000000000|4768 MB|reana-lysis|era5.nc|dave@lbl.gov|2024-03-01 00:00",
		"climate|3|3000000000|2861 MB|detec-tor02|calib.h5|alice@lbl.gov|2024-02-01 12:00",
		"physics|1|8000000000|7629 MB|simul-ation|sim.tar|bob@lbl.gov|2024-03-15 08:00",
		"physics|2|5000000000|4768 MB|detec-tor02|detector.h5|alice@lbl.gov|2024-01-10 09:00",
		"physics|3|3000000000|2861 MB|detec-tor02|calib.h5|alice@lbl.gov|2024-02-01 12:00",
		"",
	}, "\n")
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	// A file that only an older version has is shown with that version;
	// top 10 reaches it.
	all := runReport(t, s, "invenio", 10, "--no-align", "--tuples-only", "--field-separator=|")
	for _, line := range []string{
		"(all)|7|1000|1000 bytes|detec-tor01|readme.txt|alice@lbl.gov|2024-01-10 09:05",
		"physics|4|1000|1000 bytes|detec-tor01|readme.txt|alice@lbl.gov|2024-01-10 09:05",
	} {
		if !strings.Contains(all, line+"\n") {
			t.Errorf("top 10 lacks %q:\n%s", line, all)
		}
	}
	for _, absent := range []string{"gone.nc", "unpublished.bin", "biology", "retired"} {
		if strings.Contains(all, absent) {
			t.Errorf("top 10 shows %s:\n%s", absent, all)
		}
	}
	if n := strings.Count(all, "(all)|"); n != 7 {
		t.Errorf("overall ranking has %d files, want the 7 stored files of published records:\n%s", n, all)
	}
	// What the CronJob's log shows.
	t.Logf("report as the CronJob prints it (top 3):\n%s", runReport(t, s, "invenio", 3))
}

// TestLargestFilesReportNeedsItsTables: run against a database without the
// InvenioRDM tables, the query fails (psql stops on the error) rather than
// printing an empty report.
func TestLargestFilesReportNeedsItsTables(t *testing.T) {
	s := pgtest.Start(t)
	s.CreateDB(t, "empty")
	file := filepath.Join(t.TempDir(), "largest-files.sql")
	if err := os.WriteFile(file, []byte(invenio.LargestFilesSQL), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := s.Command(filepath.Join(s.Bin, "psql"), append([]string{"-d", "empty"}, invenio.LargestFilesArgs(file, 3)...)...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `relation "rdm_records_files" does not exist`) {
		t.Errorf("psql succeeded or failed otherwise: %v\n%s", err, out)
	}
}
