//go:build runtime

package runtimetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lbl.gov/invenio-gitops/internal/workcopy"
)

// environments are the environments run: dev and prod of the repository's
// description (RUNTIME_ENVS=dev,prod by default).
func environments() []string {
	if v := os.Getenv("RUNTIME_ENVS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"dev", "prod"}
}

// TestEnvironments runs each environment on the real programs and checks
// the platform's promises, one after the other on the same running
// instance (each builds on what the one before it left).
func TestEnvironments(t *testing.T) {
	envs := environments()
	for _, name := range envs {
		t.Run(name, func(t *testing.T) {
			// Environments run side by side: each has a node of its own,
			// and most of a run is waiting (probes, paced transfers).
			if len(envs) > 1 {
				t.Parallel()
			}
			ctx := context.Background()
			pe := newPlatformEnv(t, name, withoutUnrunnable(t, name))
			t.Run("install", func(t *testing.T) { pe.t = t; pe.start(ctx) })
			if t.Failed() {
				return
			}
			var a *api
			steps := []struct {
				name string
				f    func()
			}{
				{"serve", func() { a = pe.newAPI(ctx); pe.serve(ctx, a) }},
				{"long-transfers", func() { pe.longTransfers(ctx, a) }},
				{"controls", func() { pe.controls(ctx, a) }},
				{"rotation", func() { pe.rotation(ctx, a) }},
				{"failures", func() { pe.failures(ctx, a) }},
				{"limits", func() { pe.limits(ctx, a) }},
				{"backups", func() { pe.backups(ctx) }},
				{"writes", func() { pe.writesOnlyToVolumes() }},
			}
			for _, s := range steps {
				if !t.Run(s.name, func(t *testing.T) { pe.t = t; s.f() }) && s.name == "serve" {
					return // the others need its record
				}
			}
		})
	}
}

// unrunnable are optional workloads whose image cannot run here, and why.
// The harness refuses an image it cannot map; a run switches these off in
// its working copy and says so (docs/runtime.md).
var unrunnable = map[string]string{
	"dashboards": "opensearchproject/opensearch-dashboards: no registry reachable here serves OpenSearch Dashboards (it is a Node.js distribution published only as a tarball and an image)",
}

func withoutUnrunnable(t *testing.T, env string) func(*workcopy.Repo) {
	return func(r *workcopy.Repo) {
		for _, e := range r.Platform(t).Environments {
			if string(e.Name) == env && e.Backup.On() && e.Backup.Target.IsS3() {
				// No S3 endpoint here: the backups go to a volume (a local
				// restic repository), as dev's do.
				t.Logf("%s: backup target %s replaced by a volume in the working copy", env, e.Backup.Target.S3.Endpoint)
				r.Delete(t, env, []string{"backup", "target"}, "s3")
				r.Edit(t, env, []string{"backup", "target", "volume"}, "storageClass", "cephfs", "")
				r.Edit(t, env, []string{"backup", "target", "volume"}, "size", "50Gi", "")
			}
		}
		for _, e := range r.Platform(t).Environments {
			if string(e.Name) != env {
				continue
			}
			for w, why := range unrunnable {
				on := w == "dashboards" && e.Workloads.Dashboards.On()
				if on {
					t.Logf("%s: %s switched off in the working copy: %s", env, w, why)
					r.SetWorkloadEnabled(t, env, w, false)
				}
			}
		}
	}
}

// serve: UI and API answer through the ingress and the frontend; a 1 GiB
// file is uploaded, published, found by search and downloaded intact; the
// application receives the upload while the client still sends it, and no
// pod spools it to /tmp.
func (pe *platformEnv) serve(ctx context.Context, a *api) {
	t := pe.t
	for _, path := range []string{"/", "/search", "/api/records", "/static/dist/manifest.json"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", pe.ingress.URL(path), nil)
		resp, err := pe.ingress.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
		}
		if resp.Header.Get("X-Request-ID") == "" {
			t.Errorf("GET %s: no X-Request-ID", path)
		}
	}
	title := fmt.Sprintf("Runtime harness record %d", time.Now().UnixNano())
	id := a.newDraft(ctx, title)
	const size = 1 << 30
	p := newPayload(size, 1)
	// Watch, while the upload runs, what reaches the files volume and what
	// lands in every pod's /tmp.
	var peakTmp atomic.Int64
	var firstOnDisk atomic.Int64 // bytes the client had sent when the file first grew on disk
	firstOnDisk.Store(-1)
	stop := make(chan struct{})
	done := make(chan struct{})
	files := pe.node.ClaimDir("invenio-files")
	before := dirBytes(files)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if firstOnDisk.Load() < 0 && dirBytes(files) > before {
				firstOnDisk.Store(p.sent.Load())
			}
			for _, u := range pe.tmpUsage() {
				if u > peakTmp.Load() {
					peakTmp.Store(u)
				}
			}
		}
	}()
	t0 := time.Now()
	status, body := a.upload(ctx, id, "big.bin", p, size)
	close(stop)
	<-done
	d := time.Since(t0)
	if status != http.StatusOK {
		t.Fatalf("uploading 1 GiB: HTTP %d: %s", status, truncate(body, 500))
	}
	figures.add(t, "1 GiB upload through ingress, frontend and uWSGI: %s (%.0f MiB/s); peak /tmp of any pod %.1f MiB; first bytes on the files volume after the client sent %.1f MiB",
		d.Round(100*time.Millisecond), float64(size)/(1<<20)/d.Seconds(), float64(peakTmp.Load())/(1<<20), float64(firstOnDisk.Load())/(1<<20))
	if f := firstOnDisk.Load(); f < 0 || f >= size {
		t.Errorf("the application received nothing before the client had sent everything (first bytes on disk after %d of %d sent)", f, size)
	}
	if peakTmp.Load() > 8<<20 {
		t.Errorf("a pod's /tmp held %.1f MiB during the upload: the body is spooled", float64(peakTmp.Load())/(1<<20))
	}
	a.publish(ctx, id)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ids := a.search(ctx, "\""+title+"\""); len(ids) == 1 && ids[0] == id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %s not found by searching its title", id)
		}
		time.Sleep(2 * time.Second)
	}
	t1 := time.Now()
	sum, n, err := a.download(ctx, id, "big.bin", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != size || sum != p.hexSum() {
		t.Fatalf("downloaded %d bytes with SHA-256 %s; uploaded %d with %s", n, sum, int64(size), p.hexSum())
	}
	figures.add(t, "1 GiB download: %s, byte-identical", time.Since(t1).Round(100*time.Millisecond))
	pe.record = id
	pe.recordTitle = title
	pe.recordSum = sum
}

// writesOnlyToVolumes: no process of any pod tried to write outside its
// declared volumes during the whole run (the root filesystem is read-only:
// such a write fails with EROFS, and every program here reports it).
func (pe *platformEnv) writesOnlyToVolumes() {
	logs, _ := filepath.Glob(filepath.Join(pe.node.Dir(), "pods", "*", "logs", "*.log"))
	found := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			pe.t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "Read-only file system") || strings.Contains(line, "EROFS") {
				found++
				pe.t.Errorf("%s: %s", l, truncate(line, 300))
			}
		}
	}
	figures.add(pe.t, "%d container logs read: %d writes outside the declared volumes", len(logs), found)
}

// tmpUsage is the use of every pod's emptyDir named tmp.
func (pe *platformEnv) tmpUsage() []int64 {
	var out []int64
	for _, s := range append(pe.slots(nil, "Deployment"), pe.slots(nil, "StatefulSet")...) {
		if p, ok := pe.node.Pod(s); ok {
			if u, err := p.VolumeUsage("tmp"); err == nil {
				out = append(out, u)
			}
		}
	}
	if u, err := pe.ingress.pod.VolumeUsage("tmp"); err == nil {
		out = append(out, u)
	}
	return out
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
