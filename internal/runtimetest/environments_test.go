//go:build runtime

package runtimetest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"lbl.gov/invenio-gitops/generator/config"
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
			// The first environment installs the platform's release, its
			// install killed once in every step, and its release step
			// rolls a new tag of the same release; the others install the
			// first v12 and their release step upgrades it to the
			// platform's (docs/lifecycle.md).
			var upgradeTo string
			pe := newPlatformEnv(t, name, func(r *workcopy.Repo) {
				withoutUnrunnable(t, name)(r)
				if name != envs[0] {
					upgradeTo = startFromPrevious(t, name, r)
				}
			})
			pe.interrupt = name == envs[0]
			pe.upgradeTo = upgradeTo
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
				{"release", func() { pe.release(ctx, a) }},
				{"long-transfers", func() { pe.longTransfers(ctx, a) }},
				// Once: the checks' ability to fail does not depend on the environment.
				{"controls", func() {
					if name == envs[0] {
						pe.controls(ctx, a)
					}
				}},
				{"rotation", func() { pe.rotation(ctx, a) }},
				{"failures", func() { pe.failures(ctx, a) }},
				{"limits", func() { pe.limits(ctx, a) }},
				{"backups", func() { pe.backups(ctx) }},
				{"logs", func() { pe.cleanLogs() }},
				// Last: the instance is replaced by one restored from its
				// backups. Once (the first environment's install is the
				// killed one, and takes longer).
				{"restore", func() {
					if name != envs[0] {
						pe.restoreInto(ctx, a)
					}
				}},
			}
			for _, s := range steps {
				if !t.Run(s.name, func(t *testing.T) { pe.t = t; s.f() }) && s.name == "serve" {
					return // the others need its record
				}
			}
		})
	}
}

// startFromPrevious makes environment env of the working copy install
// InvenioRDM's first v12 release (its image tag with the release replaced)
// and returns the tag it had, which its release step upgrades to.
func startFromPrevious(t *testing.T, env string, r *workcopy.Repo) string {
	for _, e := range r.Platform(t).Environments {
		if string(e.Name) != env {
			continue
		}
		tag := string(e.Image.Tag)
		if releaseOf(tag) != invenioRelease {
			t.Fatalf("%s: image tag %s names InvenioRDM %s; the upgrade proof goes from %s to %s", env, tag, releaseOf(tag), invenioPrevious, invenioRelease)
		}
		t.Logf("%s: image tag %s replaced by %s in the working copy: it installs InvenioRDM %s, and its release step upgrades it to %s",
			env, tag, previousTag(tag), invenioPrevious, tag)
		r.Edit(t, env, []string{"image"}, "tag", previousTag(tag), "")
		return tag
	}
	t.Fatalf("no environment %s", env)
	return ""
}

// unrunnable are optional workloads whose image cannot run here, and why.
// The harness refuses an image it cannot map; a run switches these off in
// its working copy and says so (docs/runtime.md).
var unrunnable = map[string]string{
	"dashboards": "opensearchproject/opensearch-dashboards: no registry reachable here serves OpenSearch Dashboards (it is a Node.js distribution published only as a tarball and an image)",
}

func withoutUnrunnable(t *testing.T, env string) func(*workcopy.Repo) {
	edgeProgram := map[config.Exposure]string{config.ExposureGateway: "Envoy proxy", config.ExposureRoute: "OpenShift router"}
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
			if !e.Ingress.Exposure.Ingress() {
				// No Envoy (nor OpenShift router) binary is available here
				// (docs/exposure.md#what-is-proven): the edge that runs is
				// the ingress-nginx stand-in, so the copy uses an Ingress.
				// Envoy's own translation of the Gateway is checked by
				// make e2e.
				t.Logf("%s: ingress.exposure %s replaced by ingress in the working copy: no %s runs here", env, e.Ingress.Exposure, edgeProgram[e.Ingress.Exposure])
				r.Edit(t, env, []string{"ingress"}, "exposure", "ingress", "")
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
	pe.noRestarts()
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
	pe.headers(ctx)
	pe.probeCost(ctx)
	pe.metrics(ctx)
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

// logDefects are lines no container log may hold after a run, and why.
var logDefects = map[string]string{
	// The root filesystem is read-only: a write anywhere but a declared
	// volume fails with EROFS, and every program here reports it.
	"Read-only file system": "a write outside the declared volumes",
	"EROFS":                 "a write outside the declared volumes",
	// pg_isready without --username in a hook or probe.
	`role "postgres" does not exist`: "a client without the platform's user",
}

// cleanLogs: no container log of the whole run holds a logDefects line.
func (pe *platformEnv) cleanLogs() {
	logs, _ := filepath.Glob(filepath.Join(pe.node.Dir(), "pods", "*", "logs", "*.log"))
	found := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			pe.t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for pattern, why := range logDefects {
				if strings.Contains(line, pattern) {
					found++
					pe.t.Errorf("%s (%s): %s", l, why, truncate(line, 300))
				}
			}
		}
	}
	figures.add(pe.t, "%d container logs read: %d writes outside the declared volumes or other defects", len(logs), found)
}

// headers: the frontend keeps the request id the ingress gives (and
// returns it), answers /static/dist with one Cache-Control, and sends
// /apifoo to the UI, not the API.
func (pe *platformEnv) headers(ctx context.Context) {
	t := pe.t
	get := func(path string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", pe.ingress.URL(path), nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := pe.ingress.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get("/api/records", map[string]string{"X-Request-ID": "runtime-harness-0001"}); r.Header.Get("X-Request-ID") != "runtime-harness-0001" {
		t.Errorf("X-Request-ID sent runtime-harness-0001, answered %q", r.Header.Get("X-Request-ID"))
	}
	if r := get("/static/dist/manifest.json", nil); len(r.Header.Values("Cache-Control")) != 1 || r.Header.Get("X-Request-ID") == "" {
		t.Errorf("/static/dist/manifest.json: Cache-Control %q, X-Request-ID %q", r.Header.Values("Cache-Control"), r.Header.Get("X-Request-ID"))
	}
	if r := get("/apifoo", nil); strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Errorf("/apifoo was answered by the API (%s)", r.Header.Get("Content-Type"))
	}
	// Where SAML is on, the web UI's InvenioRDM has the generated
	// configuration (the ConfigMap's fragment executed by invenio.cfg) and
	// can read the service provider's key pair from the sealed Secret.
	// (The IdP itself is out of reach here: invenio-saml fetches its
	// metadata on the first login.)
	if idp := string(pe.env.Auth.SAML.IdP); pe.env.Auth.Mode == "saml" {
		out := pe.exec(ctx, "Deployment/web-ui", "web-ui", `python - <<'PY'
from invenio_app.factory import create_ui
c = create_ui().config["SSO_SAML_IDPS"]["`+idp+`"]
print(len(open(c["sp_cert_file"]).read()) > 0, len(open(c["sp_key_file"]).read()) > 0, c["settings_url"])
PY`)
		if got := lastLine(out); !strings.HasPrefix(got, "True True https://") {
			t.Errorf("SAML configuration of the web UI: %q", got)
		}
	}
	// RabbitMQ's memory alarm is the absolute value from its limit.
	res, err := pe.pod("StatefulSet/rabbitmq").Exec(ctx, "rabbitmq", nil, "rabbitmqctl", "-q", "eval", "vm_memory_monitor:get_memory_limit().")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("rabbitmqctl eval: %v %s%s", err, res.Stdout, res.Stderr)
	}
	want := pe.memoryLimit("StatefulSet/rabbitmq", "rabbitmq") * 6 / 10
	if got := strings.TrimSpace(res.Stdout); got != fmt.Sprint(want) {
		t.Errorf("RabbitMQ's memory high watermark is %s bytes, want 60 %% of its limit, %d", got, want)
	}
}

// exporterUp is the gauge each exporter sets to 1 when it reaches what it
// watches.
var exporterUp = map[string]string{"postgresql-exporter": "pg_up 1", "redis-exporter": "redis_up 1", "frontend": "nginx_up 1"}

// metrics: where monitoring is on, every exporter answers Prometheus on
// its declared port with its target reached, and RabbitMQ's plugin
// answers per-object metrics.
func (pe *platformEnv) metrics(ctx context.Context) {
	if !pe.env.Monitoring.Enabled {
		return
	}
	var lines []string
	for svc, want := range exporterUp {
		ip, err := pe.node.ServiceIP(svc)
		if err != nil {
			pe.t.Error(err)
			continue
		}
		body := pe.scrape(ctx, "http://"+ip.String()+":"+pe.servicePort(svc, "metrics")+"/metrics")
		if !strings.Contains(body, "\n"+want+"\n") {
			pe.t.Errorf("%s: no %q in its metrics", svc, want)
		}
		lines = append(lines, svc+": "+want)
	}
	ip, _ := pe.node.ServiceIP("rabbitmq")
	if body := pe.scrape(ctx, "http://"+ip.String()+":15692/metrics/per-object"); !strings.Contains(body, "rabbitmq_queue_messages") {
		pe.t.Errorf("rabbitmq: no per-queue metrics")
	}
	sort.Strings(lines)
	figures.add(pe.t, "exporters scraped from the node: %s; RabbitMQ per-object metrics", strings.Join(lines, ", "))
}

func (pe *platformEnv) scrape(ctx context.Context, url string) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := pe.node.HTTPClient().Do(req)
	if err != nil {
		pe.t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		pe.t.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return string(b)
}

// memoryLimit is a container's memory limit in bytes.
func (pe *platformEnv) memoryLimit(slot, container string) int64 {
	for _, c := range pe.pod(slot).Spec().Containers {
		if c.Name == container {
			return c.Resources.Limits.Memory().Value()
		}
	}
	pe.t.Fatalf("%s has no container %s", slot, container)
	return 0
}

// noRestarts fails the test for every container that has restarted on its
// own: after the install nothing was killed on purpose yet, so a restart is
// a crash or a probe killing a working server (beat's did, every 8 minutes).
func (pe *platformEnv) noRestarts() {
	for _, s := range append(pe.slots(nil, "StatefulSet"), pe.slots(nil, "Deployment")...) {
		p := pe.pod(s)
		for _, c := range p.Spec().Containers {
			if st, _ := p.Status(c.Name); st.Restarts > 0 {
				pe.t.Errorf("%s/%s restarted %d time(s) during the install (last: %s exit %d); events: %s",
					s, c.Name, st.Restarts, st.LastKill, st.LastExit, filepath.Join(p.Dir(), "events.log"))
			}
		}
	}
}

// probeCost times one run of each exec liveness probe of the application
// (the worker's used to load all of InvenioRDM).
func (pe *platformEnv) probeCost(ctx context.Context) {
	var lines []string
	for _, s := range pe.slots(nil, "Deployment") {
		p := pe.pod(s)
		for _, c := range p.Spec().Containers {
			if c.LivenessProbe == nil || c.LivenessProbe.Exec == nil {
				continue
			}
			t0 := time.Now()
			res, err := p.Exec(ctx, c.Name, nil, c.LivenessProbe.Exec.Command...)
			if err != nil || res.ExitCode != 0 {
				pe.t.Errorf("%s/%s liveness probe: %v %s%s", s, c.Name, err, res.Stdout, res.Stderr)
			}
			lines = append(lines, fmt.Sprintf("%s %s", c.Name, time.Since(t0).Round(10*time.Millisecond)))
		}
	}
	figures.add(pe.t, "one exec liveness probe each: %s", strings.Join(lines, ", "))
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
