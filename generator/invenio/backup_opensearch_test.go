package invenio

// The OpenSearch scripts against a stand-in for OpenSearch's snapshot API
// (no OpenSearch package exists for the test machine): an HTTP server that
// keeps indices, repositories and snapshots in memory and answers the
// calls the scripts make with the fields OpenSearch 2.x returns. What it
// proves is the scripts' logic — register, count, snapshot, retention
// only after success, restore under another name, compare, clean up — not
// OpenSearch itself.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type fakeSnapshot struct {
	name     string
	counts   map[string]int // the indices it holds
	metadata json.RawMessage
}

type fakeOpenSearch struct {
	mu        sync.Mutex
	indices   map[string]int
	repos     map[string]string          // repository → location
	snapshots map[string][]*fakeSnapshot // location → snapshots
	failNext  bool                       // the next snapshot fails
	lose      bool                       // restores lose a document per index
	down      bool                       // the cluster does not answer
}

func matches(patterns, name string) bool {
	for _, p := range strings.Split(patterns, ",") {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func (f *fakeOpenSearch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	reply := func(v any) { _ = json.NewEncoder(w).Encode(v) }
	switch {
	case parts[0] == "_cluster" && parts[1] == "health":
		if f.down {
			http.Error(w, `{"error":"cluster_block_exception"}`, http.StatusServiceUnavailable)
			return
		}
		reply(map[string]string{"status": "green"})
	case parts[0] == "_snapshot" && len(parts) == 2 && r.Method == http.MethodPut:
		var req struct {
			Settings struct{ Location string } `json:"settings"`
		}
		_ = json.Unmarshal(body, &req)
		f.repos[parts[1]] = req.Settings.Location
		reply(map[string]bool{"acknowledged": true})
	case parts[0] == "_snapshot" && len(parts) == 2 && r.Method == http.MethodDelete:
		delete(f.repos, parts[1])
		reply(map[string]bool{"acknowledged": true})
	case parts[0] == "_snapshot" && len(parts) >= 3:
		loc, ok := f.repos[parts[1]]
		if !ok {
			http.Error(w, `{"error":"repository_missing_exception"}`, http.StatusNotFound)
			return
		}
		snaps := f.snapshots[loc]
		find := func(name string) *fakeSnapshot {
			for _, s := range snaps {
				if s.name == name {
					return s
				}
			}
			return nil
		}
		switch {
		case parts[2] == "_all":
			var l []map[string]string
			for _, s := range snaps {
				l = append(l, map[string]string{"snapshot": s.name, "state": "SUCCESS"})
			}
			reply(map[string]any{"snapshots": l})
		case len(parts) == 3 && r.Method == http.MethodPut:
			if f.failNext {
				f.failNext = false
				reply(map[string]any{"snapshot": map[string]string{"snapshot": parts[2], "state": "FAILED"}})
				return
			}
			var req struct {
				Indices  string          `json:"indices"`
				Metadata json.RawMessage `json:"metadata"`
			}
			if err := json.Unmarshal(body, &req); err != nil {
				http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
				return
			}
			s := &fakeSnapshot{name: parts[2], counts: map[string]int{}, metadata: req.Metadata}
			for n, c := range f.indices {
				s.counts[n] = c
			}
			f.snapshots[loc] = append(snaps, s)
			reply(map[string]any{"snapshot": map[string]string{"snapshot": s.name, "state": "SUCCESS"}})
		case len(parts) == 3 && r.Method == http.MethodGet:
			s := find(parts[2])
			if s == nil {
				http.Error(w, `{"error":"snapshot_missing_exception"}`, http.StatusNotFound)
				return
			}
			reply(map[string]any{"snapshots": []map[string]any{{"snapshot": s.name, "state": "SUCCESS", "metadata": s.metadata}}})
		case len(parts) == 3 && r.Method == http.MethodDelete:
			var keep []*fakeSnapshot
			for _, s := range snaps {
				if s.name != parts[2] {
					keep = append(keep, s)
				}
			}
			f.snapshots[loc] = keep
			reply(map[string]bool{"acknowledged": true})
		case len(parts) == 4 && parts[3] == "_restore":
			s := find(parts[2])
			var req struct {
				Indices            string `json:"indices"`
				RenameReplacement  string `json:"rename_replacement"`
				IncludeGlobalState bool   `json:"include_global_state"`
			}
			_ = json.Unmarshal(body, &req)
			var restored []string
			for n, c := range s.counts {
				if matches(req.Indices, n) {
					if f.lose {
						c--
					}
					target := n
					if req.RenameReplacement != "" {
						target = strings.ReplaceAll(req.RenameReplacement, "$1", n)
					}
					if _, ok := f.indices[target]; ok {
						// As OpenSearch refuses it (snapshot_restore_exception).
						http.Error(w, `{"error":"cannot restore index [`+target+`] because an open index with same name already exists in the cluster"}`, http.StatusInternalServerError)
						return
					}
					f.indices[target] = c
					restored = append(restored, target)
				}
			}
			reply(map[string]any{"snapshot": map[string]any{"snapshot": s.name, "indices": restored,
				"shards": map[string]int{"total": len(restored), "failed": 0, "successful": len(restored)}}})
		}
	case parts[0] == "_cat" && parts[1] == "indices":
		var names []string
		for n := range f.indices {
			if matches(parts[2], n) {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "%s %d\n", n, f.indices[n])
		}
	case parts[0] == "_cat" && parts[1] == "count":
		c, ok := f.indices[parts[2]]
		if !ok {
			http.Error(w, `{"error":"index_not_found_exception"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, "%d\n", c)
	case len(parts) == 2 && parts[1] == "_refresh":
		reply(map[string]any{"_shards": map[string]int{"failed": 0}})
	case len(parts) == 1 && r.Method == http.MethodDelete:
		for n := range f.indices {
			if matches(parts[0], n) {
				delete(f.indices, n)
			}
		}
		reply(map[string]bool{"acknowledged": true})
	default:
		http.Error(w, "unexpected call "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
	}
}

func runOpenSearchScript(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join("scripts", script))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestOpenSearchSnapshotAndRestoreCheck(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed (the opensearch image has it)")
	}
	f := &fakeOpenSearch{
		indices: map[string]int{
			"lbnl-events-stats-record-view-2026-11": 40, "lbnl-stats-record-view-2026-11": 7,
			"lbnl-rdmrecords-records-record-v7.0.0": 500,
		},
		repos: map[string]string{}, snapshots: map[string][]*fakeSnapshot{},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	common := []string{"OPENSEARCH_URL=" + srv.URL, "STATS_INDICES=lbnl-events-stats-*,lbnl-stats-*"}
	snapshotEnv := append(common, "SNAPSHOT_REPOSITORY=backup", "SNAPSHOT_DIR=/snapshots/repository", "KEEP_DAILY=2")

	// OpenSearch not up within OPENSEARCH_WAIT: the Job fails, saying so.
	f.down = true
	if out, err := runOpenSearchScript(t, "opensearch-snapshot.sh", append(snapshotEnv, "MODE=register", "OPENSEARCH_WAIT=0")...); err == nil || !strings.Contains(out, "did not answer") || len(f.repos) != 0 {
		t.Errorf("register with OpenSearch down: %v, repositories %v\n%s", err, f.repos, out)
	}
	f.down = false
	if out, err := runOpenSearchScript(t, "opensearch-snapshot.sh", append(snapshotEnv, "MODE=register")...); err != nil || f.repos["backup"] != "/snapshots/repository" {
		t.Fatalf("register: %v, repositories %v\n%s", err, f.repos, out)
	}
	// Three daily snapshots (names have one-second resolution), two kept.
	for i := 0; i < 3; i++ {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		if out, err := runOpenSearchScript(t, "opensearch-snapshot.sh", snapshotEnv...); err != nil {
			t.Fatalf("snapshot %d: %v\n%s", i, err, out)
		}
	}
	snaps := f.snapshots["/snapshots/repository"]
	if len(snaps) != 2 {
		t.Fatalf("%d snapshots kept, want 2", len(snaps))
	}
	var meta struct {
		StatsCounts map[string]int `json:"stats_counts"`
	}
	if err := json.Unmarshal(snaps[1].metadata, &meta); err != nil || meta.StatsCounts["lbnl-events-stats-record-view-2026-11"] != 40 || len(meta.StatsCounts) != 2 {
		t.Errorf("snapshot metadata %s (%v): want the two statistics indices' counts", snaps[1].metadata, err)
	}
	newest := snaps[1].name
	// A failed snapshot fails the job and deletes nothing.
	time.Sleep(1100 * time.Millisecond)
	f.failNext = true
	if out, err := runOpenSearchScript(t, "opensearch-snapshot.sh", snapshotEnv...); err == nil {
		t.Errorf("a failed snapshot passed:\n%s", out)
	}
	if n := len(f.snapshots["/snapshots/repository"]); n != 2 {
		t.Errorf("%d snapshots after a failed one, want the 2 good ones", n)
	}

	// The restore check reads the repository as fetched back from the
	// target: here the same snapshots under another location.
	check := func(t *testing.T, restored string) (string, string) {
		results := t.TempDir()
		out, err := runOpenSearchScript(t, "restore-check-opensearch.sh", append(common, "RESTORED_DIR="+restored, "RESULTS="+results)...)
		if err != nil {
			t.Fatalf("the step must always exit 0 and report: %v\n%s", err, out)
		}
		b, _ := os.ReadFile(filepath.Join(results, "opensearch"))
		return string(b), out
	}
	fetched := filepath.Join(t.TempDir(), "fetched")
	if err := os.MkdirAll(fetched, 0o755); err != nil {
		t.Fatal(err)
	}
	f.snapshots[fetched] = f.snapshots["/snapshots/repository"] // what restic fetched back
	got, out := check(t, fetched)
	if want := "PASS opensearch: 2 statistics indices of " + newest + " restored with all recorded documents\n"; got != want {
		t.Errorf("restore check: %q, want %q\n%s", got, want, out)
	}
	for n := range f.indices {
		if strings.HasPrefix(n, "restore-check-") {
			t.Errorf("restored index %s left behind", n)
		}
	}
	if _, ok := f.repos["restore-check"]; ok {
		t.Error("the restore-check repository is still registered")
	}
	if f.indices["lbnl-stats-record-view-2026-11"] != 7 {
		t.Error("the live statistics index was changed")
	}

	if _, err := os.Stat(fetched); !os.IsNotExist(err) {
		t.Errorf("the fetched repository copy was not removed: %v", err)
	}
	if err := os.MkdirAll(fetched, 0o755); err != nil {
		t.Fatal(err)
	}
	f.lose = true
	got, _ = check(t, fetched)
	if !strings.HasPrefix(got, "FAIL opensearch: restored statistics indices have fewer documents than recorded") {
		t.Errorf("restore with lost documents: %q", got)
	}
	f.lose = false
	got, _ = check(t, filepath.Join(t.TempDir(), "never-fetched"))
	if !strings.HasPrefix(got, "FAIL opensearch: nothing fetched") {
		t.Errorf("restore check without a fetched repository: %q", got)
	}
}

// TestOpenSearchRestore: the restore Job's OpenSearch step, in a new
// environment whose OpenSearch is empty, restores every index of the
// prefix from the newest snapshot of the fetched repository (deleting what
// an earlier attempt left), and fails when a statistics index comes back
// with fewer documents than recorded; without the guard's mark it touches
// nothing.
func TestOpenSearchRestore(t *testing.T) {
	t.Parallel()
	live := map[string]int{
		"lbnl-events-stats-record-view-2026-11": 40, "lbnl-stats-record-view-2026-11": 7,
		"lbnl-rdmrecords-records-record-v7.0.0": 500,
	}
	for _, tc := range []struct {
		name   string
		mark   bool
		before map[string]int // the new environment's indices
		lose   bool
		want   string // the step's line
		after  map[string]int
	}{
		{"empty OpenSearch: every index of the prefix restored", true, map[string]int{"other-index": 1}, false,
			"PASS opensearch: 3 indices of daily-", map[string]int{"other-index": 1,
				"lbnl-events-stats-record-view-2026-11": 40, "lbnl-stats-record-view-2026-11": 7, "lbnl-rdmrecords-records-record-v7.0.0": 500}},
		{"an earlier attempt's index deleted first", true, map[string]int{"lbnl-rdmrecords-records-record-v7.0.0": 12}, false,
			"PASS opensearch: 3 indices of daily-", live},
		{"statistics lost in the restore: failed", true, map[string]int{}, true,
			"FAIL opensearch: restored statistics indices have fewer documents than recorded", nil},
		{"another prefix than the backups': failed, nothing restored", true, map[string]int{}, false,
			"FAIL opensearch: snapshot daily-", map[string]int{}},
		{"nothing to restore: untouched", false, map[string]int{"lbnl-rdmrecords-records-record-v7.0.0": 12}, false,
			"PASS opensearch: skipped (nothing to restore)", map[string]int{"lbnl-rdmrecords-records-record-v7.0.0": 12}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeOpenSearch{indices: map[string]int{}, repos: map[string]string{}, snapshots: map[string][]*fakeSnapshot{}}
			for n, c := range live {
				f.indices[n] = c
			}
			srv := httptest.NewServer(f)
			defer srv.Close()
			common := []string{"OPENSEARCH_URL=" + srv.URL, "STATS_INDICES=lbnl-events-stats-*,lbnl-stats-*"}
			if out, err := runOpenSearchScript(t, "opensearch-snapshot.sh", append(common, "SNAPSHOT_REPOSITORY=backup", "SNAPSHOT_DIR=/snapshots/repository", "KEEP_DAILY=2")...); err != nil {
				t.Fatalf("snapshot: %v\n%s", err, out)
			}
			// The new environment: its own OpenSearch, the repository
			// fetched back from the target.
			f.indices, f.repos, f.lose = tc.before, map[string]string{}, tc.lose
			dir := t.TempDir()
			fetched := filepath.Join(dir, "fetched")
			if err := os.MkdirAll(fetched, 0o755); err != nil {
				t.Fatal(err)
			}
			f.snapshots[fetched] = f.snapshots["/snapshots/repository"]
			mark := filepath.Join(dir, "restore-this")
			if tc.mark {
				if err := os.WriteFile(mark, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			results := filepath.Join(dir, "results")
			prefix := "lbnl"
			if strings.HasPrefix(tc.name, "another prefix") {
				prefix = "lbnl-test"
			}
			out, err := runOpenSearchScript(t, "restore-opensearch.sh", append(common, "RESTORED_DIR="+fetched, "INDEX_PREFIX="+prefix, "RESTORE_MARK="+mark, "RESULTS="+results)...)
			if err != nil {
				t.Fatalf("the step must always exit 0 and report: %v\n%s", err, out)
			}
			b, _ := os.ReadFile(filepath.Join(results, "opensearch"))
			if !strings.HasPrefix(string(b), tc.want) {
				t.Errorf("step reported %q, want %q…\n%s", b, tc.want, out)
			}
			if tc.after != nil {
				if diff := cmp.Diff(tc.after, f.indices); diff != "" {
					t.Errorf("indices after (-want +got):\n%s", diff)
				}
			}
			if _, ok := f.repos["restore"]; ok {
				t.Error("the restore repository is still registered")
			}
		})
	}
}
