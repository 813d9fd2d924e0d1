package pgtest

import "testing"

func TestServerRunsSQL(t *testing.T) {
	s := Start(t)
	s.CreateDB(t, "app")
	s.Psql(t, "app", "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2), (40);")
	if got := s.Psql(t, "app", "SELECT sum(n) FROM t"); got != "43" {
		t.Fatalf("sum = %q, want 43", got)
	}
}
