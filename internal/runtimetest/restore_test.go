//go:build runtime

package runtimetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"lbl.gov/invenio-gitops/internal/kubelet"
)

// restoreInto: the environment is lost but for its backups, and a new,
// empty instance of it restores itself from them (docs/backup.md,
// "Restore into a new environment"). The record is viewed first, and the
// views processed into statistics as beat would, so that the backups hold
// statistics; then the daily backups run, the instance's node stops, and a
// new node (empty database, files and search volumes; the same
// description and sealed secrets, with backup.restore on) gets the backup
// volume and starts as Flux would apply it. Checked after: the restore
// Job and the setup Job (which waits for the restore's recorded end, then
// upgrades the restored install; the application pods wait for that
// upgrade) succeed; the record is read with the old instance's API token,
// found by search, and its 1 GiB file downloads intact; every uploaded
// file is there with the same SHA-256; the statistics indices hold the
// same documents.
func (pe *platformEnv) restoreInto(ctx context.Context, a *api) {
	t := pe.t
	if !pe.env.Backup.FilesOn() || !pe.env.Backup.OpenSearchOn() || !pe.env.Backup.Target.IsVolume() {
		t.Fatalf("%s: the restore proof needs the database, files and OpenSearch backed up to a volume", pe.name)
	}
	// Views of the landing page (the UI's; the API's are not counted), as a
	// browser sends them.
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", pe.ingress.URL("/records/"+pe.record), nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
		resp, err := pe.ingress.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /records/%s: HTTP %d", pe.record, resp.StatusCode)
		}
	}
	pe.exec(ctx, "Deployment/web-api", "web-api", "invenio stats events process --eager && invenio stats aggregations process --eager")
	stats := pe.statsCounts(ctx)
	if len(stats) == 0 {
		t.Fatal("no statistics indices after the views were processed: nothing to prove the restore of statistics with")
	}
	t0 := time.Now()
	for _, cj := range []string{"backup-postgresql", "backup-files", "backup-opensearch"} {
		run, err := pe.node.RunCronJob(ctx, cj)
		if err != nil {
			t.Fatal(err)
		}
		if !run.Succeeded {
			t.Fatalf("CronJob %s: %s\n%s", cj, run.Reason, pe.logsOf(run.Pods[len(run.Pods)-1]))
		}
	}
	figures.add(t, "backups of the instance to restore (database, files, indices): %s; statistics %v", time.Since(t0).Round(time.Second), stats)
	files := fileSums(t, pe.node.ClaimDir("invenio-files"))
	// The instance goes; its backup volume stays.
	backups := pe.node.ClaimDir("backup-target")
	pe.node.Close()

	pe.repo.Edit(t, pe.name, []string{"backup", "restore"}, "enabled", "true", "!!bool")
	pe.repo.CLI(t, "generate", "-q")
	n := &platformEnv{t: t, root: pe.root, name: pe.name, repo: pe.repo, key: pe.key,
		record: pe.record, recordTitle: pe.recordTitle, recordSum: pe.recordSum,
		adopt: map[string]string{"backup-target": backups}}
	n.load()
	t1 := time.Now()
	n.start(ctx)
	figures.add(t, "restored instance serving %s after its node started (restore Job %s)", time.Since(t1).Round(time.Second), n.restoreTook.Round(time.Second))
	report := jobLog(n.restoreRun, "report")
	if !strings.Contains(report, "restore: OK") || !strings.Contains(report, "uploaded files match their checksums") || !strings.Contains(report, "restore recorded as ended") {
		t.Errorf("the restore Job's report:\n%s", truncate(report, 3000))
	}
	setup := jobLog(n.installRun, "setup")
	for _, want := range []string{"waiting for the restore Job to record its end", "the restore Job has recorded its end", "existing installation: upgrading", "upgrade done"} {
		if !strings.Contains(setup, want) {
			t.Errorf("the setup Job's log lacks %q:\n%s", want, truncate(setup, 3000))
		}
	}
	// The old instance's API token: the restored database holds it,
	// encrypted with the environment's secret key.
	b := &api{pe: n, token: a.token}
	b.do(ctx, "GET", "/api/records/"+pe.record, nil, http.StatusOK, nil)
	if ids := b.search(ctx, "\""+pe.recordTitle+"\""); len(ids) != 1 || ids[0] != pe.record {
		t.Errorf("search for the restored record's title: %v, want [%s]", ids, pe.record)
	}
	sum, size, err := b.download(ctx, pe.record, "big.bin", 0, 0)
	if err != nil || sum != pe.recordSum {
		t.Errorf("download of the restored 1 GiB file: %d bytes, SHA-256 %s, want %s (%v)", size, sum, pe.recordSum, err)
	}
	if diff := cmp.Diff(files, fileSums(t, n.node.ClaimDir("invenio-files"))); diff != "" {
		t.Errorf("uploaded files after the restore (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(stats, n.statsCounts(ctx)); diff != "" {
		t.Errorf("statistics indices after the restore (-before +after):\n%s", diff)
	}
	figures.add(t, "restored: the record read with the old API token and found by search, %d uploaded files with the same SHA-256, the 1 GiB file downloaded intact, statistics %v", len(files), stats)
	n.cleanLogs()
}

// statsCounts are the document counts of the statistics indices.
func (pe *platformEnv) statsCounts(ctx context.Context) map[string]int {
	p := string(pe.env.Search.IndexPrefix)
	out := pe.exec(ctx, "StatefulSet/opensearch", "opensearch",
		"curl -fsS -XPOST 'localhost:9200/"+p+"-*/_refresh' >/dev/null && curl -fsS 'localhost:9200/_cat/indices/"+p+"-events-stats-*,"+p+"-stats-*?h=index,docs.count'")
	counts := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			pe.t.Fatalf("_cat/indices: %q", l)
		}
		counts[f[0]] = n
	}
	return counts
}

// fileSums is the SHA-256 of every regular file below dir, by path.
func fileSums(t interface{ Fatal(...any) }, dir string) map[string]string {
	sums := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() && fi.Name() == "lost+found" {
			return filepath.SkipDir
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sums[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// jobLog is a container's log in the last pod of a Job's run.
func jobLog(r kubelet.JobRun, container string) string {
	if len(r.Pods) == 0 {
		return ""
	}
	b, _ := os.ReadFile(r.Pods[len(r.Pods)-1].LogPath(container))
	return string(b)
}
