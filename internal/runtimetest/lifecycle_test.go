//go:build runtime

package runtimetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"lbl.gov/invenio-gitops/internal/e2e/cluster"
	"lbl.gov/invenio-gitops/internal/kubelet"
)

// rollout applies a new revision of the working copy the way Flux's
// layers bring it: the data layer's changed workloads replaced and ready
// first, then the app layer's (with the setup Job run again when its
// template changed, as Flux's force annotation replaces it). It returns
// the workloads replaced.
func (pe *platformEnv) rollout(ctx context.Context) []string {
	t := pe.t
	t.Helper()
	oldJob := jobHash(pe.objects, "invenio-setup")
	pe.load()
	changed, err := pe.node.Update(pe.objects, pe.secrets)
	if err != nil {
		t.Fatal(err)
	}
	var data, apps []string
	for _, s := range changed {
		if strings.HasPrefix(s, "StatefulSet/") {
			data = append(data, s)
		} else {
			apps = append(apps, s)
		}
	}
	t0 := time.Now()
	for _, s := range data {
		if _, err := pe.node.Replace(s); err != nil {
			t.Fatal(err)
		}
	}
	pe.waitReady(ctx, data, 10*time.Minute)
	var wg sync.WaitGroup
	var job kubelet.JobRun
	var jobErr error
	if jobHash(pe.objects, "invenio-setup") != oldJob {
		wg.Add(1)
		go func() { defer wg.Done(); job, jobErr = pe.node.RunJob(ctx, "invenio-setup") }()
	}
	for _, s := range apps {
		if _, err := pe.node.Replace(s); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if jobErr != nil || (len(job.Pods) > 0 && !job.Succeeded) {
		t.Fatalf("the setup Job of the new revision: %v %s", jobErr, job.Reason)
	}
	pe.lastSetup = job
	pe.waitReady(ctx, apps, 10*time.Minute)
	figures.add(t, "rollout of %s in %s", strings.Join(changed, ", "), time.Since(t0).Round(time.Second))
	return changed
}

func jobHash(objs []runtime.Object, name string) string {
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok && j.Name == name {
			b, _ := json.Marshal(j.Spec.Template)
			s := sha256.Sum256(b)
			return hex.EncodeToString(s[:])
		}
	}
	return ""
}

// restartIngress renders the (changed) Ingress again and restarts the
// controller's stand-in.
func (pe *platformEnv) restartIngress(ctx context.Context) {
	pe.ingress.pod.Stop()
	pe.ingress = pe.startIngress(ctx)
}

var staleMinutes = regexp.MustCompile(`-mmin -(\d+)`)

// servers are the main server process of each long-running container, by
// the name the kernel gives it: what `kill -9` hits.
var servers = map[string]string{
	"postgresql": "postgres", "redis": "redis-server", "rabbitmq": "beam.smp", "opensearch": "java",
	"web-ui": "uwsgi", "web-api": "uwsgi", "worker": "celery", "beat": "celery", "nginx": "nginx",
}

// failures: `kill -9` of every server process brings its container back
// (the kubelet restarts it) and it serves again; a container whose
// processes all hang is killed by its liveness probe within period ×
// failureThreshold; the published record survives the restarts of
// PostgreSQL, OpenSearch, RabbitMQ and Redis.
func (pe *platformEnv) failures(ctx context.Context, a *api) {
	t := pe.t
	type target struct {
		slot, container string
		pod             *kubelet.Pod
		spec            corev1.Container
	}
	var targets []target
	for _, s := range append(pe.slots(nil, "StatefulSet"), pe.slots(nil, "Deployment")...) {
		p := pe.pod(s)
		for _, c := range p.Spec().Containers {
			if _, ok := servers[c.Name]; ok {
				targets = append(targets, target{s, c.Name, p, c})
			}
		}
	}
	// kill -9, all at once: each comes back on its own.
	var wg sync.WaitGroup
	results := make([]string, len(targets))
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = pe.killAndRecover(ctx, tg.pod, tg.container, syscall.SIGKILL)
		}()
	}
	wg.Wait()
	sort.Strings(results)
	figures.add(t, "kill -9 of each server process, then ready again:\n    %s", strings.Join(results, "\n    "))
	// Hangs: every process of a container stopped; the liveness probe
	// must notice within period × failureThreshold (+ its timeout).
	results = make([]string, len(targets))
	for i, tg := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = pe.hangAndRecover(ctx, tg.pod, tg.spec)
		}()
	}
	wg.Wait()
	sort.Strings(results)
	figures.add(t, "every process of a container stopped (SIGSTOP), killed by the liveness probe:\n    %s", strings.Join(results, "\n    "))
	var rec struct{ ID string }
	a.do(ctx, "GET", "/api/records/"+pe.record, nil, 200, &rec)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if ids := a.search(ctx, "\""+pe.recordTitle+"\""); len(ids) == 1 && ids[0] == pe.record {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published record is not found after the restarts")
		}
		time.Sleep(2 * time.Second)
	}
}

// mainProcess is the container's server process: the first one (lowest
// PID in the container) with the server's name.
func mainProcess(p *kubelet.Pod, container string) (kubelet.Process, bool) {
	for _, pr := range p.Processes(container) {
		if pr.Comm == servers[container] || strings.HasPrefix(pr.Comm, servers[container]) {
			return pr, true
		}
	}
	return kubelet.Process{}, false
}

// staysUp fails the test unless the container, ready after its restart,
// is still the same run a minute later: a readiness probe can pass for a
// process that then exits (beat, refusing to start over its own stale
// pidfile, went into CrashLoopBackOff while reported ready).
func (pe *platformEnv) staysUp(p *kubelet.Pod, container string, restarts int) {
	time.Sleep(time.Minute)
	if st, _ := p.Status(container); st.Restarts != restarts || !st.Running {
		pe.t.Errorf("%s/%s: restarted again within a minute of being ready (%d restarts, last exit %d); log: %s",
			p.Name, container, st.Restarts, st.LastExit, p.LogPath(container))
	}
}

func (pe *platformEnv) killAndRecover(ctx context.Context, p *kubelet.Pod, container string, sig syscall.Signal) string {
	before, _ := p.Status(container)
	pr, ok := mainProcess(p, container)
	if !ok {
		pe.t.Errorf("%s/%s: no %s process", p.Name, container, servers[container])
		return container + ": no process"
	}
	t0 := time.Now()
	if err := p.Signal(pr.PID, sig); err != nil {
		pe.t.Error(err)
	}
	for {
		st, _ := p.Status(container)
		if st.Restarts > before.Restarts && st.Ready {
			d := time.Since(t0)
			pe.staysUp(p, container, st.Restarts)
			return fmt.Sprintf("%s/%s (%s, pid %d): restarted and ready in %s", p.Name, container, pr.Comm, pr.PID, d.Round(100*time.Millisecond))
		}
		if time.Since(t0) > 10*time.Minute {
			pe.t.Errorf("%s/%s: not ready 10 minutes after kill -9: %+v", p.Name, container, st)
			return container + ": not back"
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (pe *platformEnv) hangAndRecover(ctx context.Context, p *kubelet.Pod, c corev1.Container) string {
	if c.LivenessProbe == nil {
		return c.Name + ": no liveness probe"
	}
	period, failures := c.LivenessProbe.PeriodSeconds, c.LivenessProbe.FailureThreshold
	bound := time.Duration(period*failures+c.LivenessProbe.TimeoutSeconds)*time.Second + 5*time.Second
	// A probe that checks a file's age (beat's schedule) notices a hang
	// only once the file is that old.
	if e := c.LivenessProbe.Exec; e != nil {
		if m := staleMinutes.FindStringSubmatch(strings.Join(e.Command, " ")); m != nil {
			n, _ := strconv.Atoi(m[1])
			bound += time.Duration(n) * time.Minute
		}
	}
	before, _ := p.Status(c.Name)
	t0 := time.Now()
	stopped := p.Processes(c.Name)
	for _, pr := range stopped {
		_ = p.Signal(pr.PID, syscall.SIGSTOP)
	}
	for {
		st, _ := p.Status(c.Name)
		if st.LastKill != before.LastKill && strings.Contains(st.LastKill, "liveness") {
			d := time.Since(t0)
			// Let the processes take the kubelet's stop signal now (a stopped
			// process would only die at the end of the grace period).
			for _, pr := range stopped {
				_ = p.Signal(pr.PID, syscall.SIGCONT)
			}
			if d > bound {
				pe.t.Errorf("%s/%s: hung, killed after %s; its liveness probe allows %ds × %d", p.Name, c.Name, d.Round(time.Second), period, failures)
			}
			for {
				st, _ := p.Status(c.Name)
				if st.Restarts > before.Restarts {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if err := p.WaitReady(ctx, 10*time.Minute); err != nil {
				pe.t.Error(err)
			}
			ready := time.Since(t0)
			pe.staysUp(p, c.Name, before.Restarts+1)
			return fmt.Sprintf("%s/%s: killed after %s (liveness %ds × %d), ready after %s", p.Name, c.Name, d.Round(time.Second), period, failures, ready.Round(time.Second))
		}
		if time.Since(t0) > bound+2*time.Minute {
			// Let it go on, or the rest of the run stalls.
			for _, pr := range stopped {
				_ = p.Signal(pr.PID, syscall.SIGCONT)
			}
			pe.t.Errorf("%s/%s: hung for %s and its liveness probe (%ds × %d) did not notice", p.Name, c.Name, time.Since(t0).Round(time.Second), period, failures)
			return c.Name + ": hang not detected"
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// setupSteps are setup.sh's install steps in order, each with what its
// output prints once it is under way and well before it ends ("": it is
// killed as soon as the log names it; setup.sh records a step's start
// before it names it).
var setupSteps = []struct{ name, underway string }{
	{"database", "Creating all tables"},
	{"files-location", ""},
	{"roles", ""},
	{"indices", "Creating indexes"},
	{"custom-fields", ""}, // its output is printed when it ends
	{"app-fixtures", ""},
	{"queues", ""},
	{"vocabularies", "Creating required fixtures"},
	{"release", ""}, // under a second: the watch polls every 20 ms
	{"vocabularies-loaded", "tasks queued"},
}

// interruptedInstall runs the first install as RunJob does, but kills the
// setup container (every process, as an OOM kill does) once in each step
// of setup.sh, while the step is under way. The Job retries; after its
// backoffLimit the Job is made again, as an operator does by deleting it
// and letting Flux recreate it. It checks that every step was killed once,
// that the next attempt resumed that very step, that no attempt after a
// kill reported the install done before all steps ended, and returns the
// run that completed it (every attempt in Pods).
func (pe *platformEnv) interruptedInstall(ctx context.Context) (kubelet.JobRun, error) {
	t := pe.t
	var mu sync.Mutex
	killed := map[string]bool{}
	var order []string
	stepLine := regexp.MustCompile(`invenio-setup: step (\d+)/\d+ ([a-z-]+)(: .*)?\n`)
	// current is the step the log is in: its last step line that is not
	// one of an ended step.
	current := func(log string) (string, int) {
		name, at := "", -1
		for _, m := range stepLine.FindAllStringSubmatchIndex(log, -1) {
			if m[6] >= 0 && strings.HasPrefix(log[m[6]:m[7]], ": ended") {
				continue
			}
			name, at = log[m[4]:m[5]], m[1]
		}
		if strings.Contains(log, "invenio-setup: installation done") {
			return "", -1
		}
		return name, at
	}
	watch := func(p *kubelet.Pod) {
		for {
			select {
			case <-p.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			log := readLog(p)
			step, at := current(log)
			if step == "" {
				continue
			}
			mu.Lock()
			done := killed[step]
			mu.Unlock()
			if done {
				continue
			}
			underway := ""
			for _, s := range setupSteps {
				if s.name == step {
					underway = s.underway
				}
			}
			if underway != "" && !strings.Contains(log[at:], underway) {
				continue
			}
			if step == "vocabularies" {
				// Into the queueing of its 16,000 tasks, not its start.
				time.Sleep(time.Second)
				if s, _ := current(readLog(p)); s != step {
					continue
				}
			}
			for _, pr := range p.Processes("setup") {
				_ = p.Signal(pr.PID, syscall.SIGKILL)
			}
			mu.Lock()
			killed[step] = true
			order = append(order, step)
			mu.Unlock()
			t.Logf("setup killed in step %s (pod %s)", step, p.Name)
			return
		}
	}
	var all kubelet.JobRun
	for round := 1; ; round++ {
		run, err := pe.node.RunJobWatched(ctx, "invenio-setup", watch)
		all.Pods = append(all.Pods, run.Pods...)
		all.Succeeded, all.Reason = run.Succeeded, run.Reason
		if err != nil || run.Succeeded || !strings.HasPrefix(run.Reason, "BackoffLimitExceeded") || round > len(setupSteps) {
			if err != nil || !run.Succeeded {
				return all, err
			}
			break
		}
		t.Logf("the setup Job failed (%s): made again, as Flux does after `kubectl delete job invenio-setup`", run.Reason)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range setupSteps {
		if !killed[s.name] {
			t.Errorf("the install was never killed in step %s (killed in: %s)", s.name, strings.Join(order, ", "))
		}
	}
	// Each attempt after a kill resumed the step it died in, and only the
	// last attempt said the install was done.
	for i, p := range all.Pods {
		log := readLog(p)
		done := strings.Contains(log, "invenio-setup: installation done")
		if done != (i == len(all.Pods)-1) {
			t.Errorf("attempt %d (%s): installation done = %v; only the last attempt may say so", i+1, p.Name, done)
		}
		if i > 0 && i-1 < len(order) {
			if !regexp.MustCompile(`step \d+/\d+ ` + regexp.QuoteMeta(order[i-1]) + `: resumed`).MatchString(log) {
				t.Errorf("attempt %d (%s) did not resume step %s, the one attempt %d died in:\n%s", i+1, p.Name, order[i-1], i, cluster.Tail(p.LogPath("setup"), 20))
			}
		}
	}
	figures.add(t, "setup Job killed once in each of its %d steps (%s): %d attempts, every one resumed the step the one before died in", len(order), strings.Join(order, ", "), len(all.Pods))
	return all, nil
}

func readLog(p *kubelet.Pod) string {
	b, _ := os.ReadFile(p.LogPath("setup"))
	return string(b)
}

// upgradeTag is the image tag the release step rolls out: the same
// InvenioRDM (the harness installs one release) under a new tag, which is
// what changes the pods' templates and the setup Job's on a release.
func upgradeTag(tag string) string { return tag + "-next" }

// release: a new image tag rolled out as Flux brings it — InvenioRDM's
// first v12 upgraded to the platform's release where the environment
// started from it (pe.upgradeTo), else a new tag of the same release. The
// setup Job runs the upgrade branch; no pod of the new release starts its
// application before the Job has put the release in place (its init
// container waits for the record), while the old pods serve; the
// published record is read and found after; the Job run again changes
// nothing.
func (pe *platformEnv) release(ctx context.Context, a *api) {
	t := pe.t
	oldRef := pe.env.Image.Ref()
	newTag := upgradeTag(string(pe.env.Image.Tag))
	if pe.upgradeTo != "" {
		newTag = pe.upgradeTo
	}
	db := fmt.Sprintf("psql -U %s -d %s -Atc", pe.env.Database.User, pe.env.Database.Name)
	alembic := db + ` "SELECT string_agg(version_num, ',' ORDER BY version_num) FROM alembic_version"`
	revisionsBefore := strings.TrimSpace(pe.exec(ctx, "StatefulSet/postgresql", "postgresql", alembic))
	// What the serving pods run, as their image installed it.
	appVersion := `python -c 'import invenio_app_rdm, invenio_rdm_records; print(invenio_app_rdm.__version__, invenio_rdm_records.__version__)'`
	versionsBefore := strings.TrimSpace(pe.exec(ctx, "Deployment/web-api", "web-api", appVersion))
	// invenio-communities 13.0.9 (in 12.0.10, not in 12.0.0) added dynamic
	// templates for user profiles to the member index's mapping: the
	// upgrade must bring them to the live index.
	memberMapping := "curl -fsS localhost:9200/" + string(pe.env.Search.IndexPrefix) + "-communitymembers-members-member-v1.0.0/_mapping"
	hasProfileTemplate := func() bool {
		return strings.Contains(pe.exec(ctx, "StatefulSet/opensearch", "opensearch", memberMapping), `"user_profile"`)
	}
	templateBefore := hasProfileTemplate()
	pe.repo.Edit(t, pe.name, []string{"image"}, "tag", newTag, "")
	pe.repo.CLI(t, "generate", "-q")
	t0 := time.Now()
	changed := pe.rollout(ctx)
	newRef := pe.env.Image.Ref()
	if newRef == oldRef || len(pe.lastSetup.Pods) == 0 {
		t.Fatalf("release %s → %s: setup Job run %d time(s)", oldRef, newRef, len(pe.lastSetup.Pods))
	}
	log := readLog(pe.lastSetup.Pods[len(pe.lastSetup.Pods)-1])
	for _, want := range []string{"invenio-setup: existing installation: upgrading", "invenio-setup: upgrade done: " + newRef} {
		if !strings.Contains(log, want) {
			t.Errorf("the setup Job of %s did not say %q:\n%s", newRef, want, log)
		}
	}
	epoch := strings.TrimSpace(pe.exec(ctx, "StatefulSet/postgresql", "postgresql",
		db+` "SELECT extract(epoch FROM ended) FROM invenio_setup_step WHERE step = 'release `+newRef+`'"`))
	sec, err := strconv.ParseFloat(epoch, 64)
	if err != nil {
		t.Fatalf("the release record of %s: %q: %v", newRef, epoch, err)
	}
	released := time.Unix(0, int64(sec*1e9))
	var lines []string
	for _, slot := range pe.slots(nil, "Deployment") {
		p := pe.pod(slot)
		spec := p.Spec()
		if len(spec.InitContainers) == 0 || spec.InitContainers[0].Name != "wait-for-setup" {
			continue
		}
		main := spec.Containers[len(spec.Containers)-1].Name
		st, _ := p.Status(main)
		if st.FirstStarted.Before(released) {
			t.Errorf("%s/%s of %s started at %s, before the setup Job put the release in place at %s", slot, main, newRef,
				st.FirstStarted.Format(time.RFC3339Nano), released.Format(time.RFC3339Nano))
		}
		lines = append(lines, fmt.Sprintf("%s +%s", main, st.FirstStarted.Sub(released).Round(100*time.Millisecond)))
	}
	if len(lines) < 4 {
		t.Errorf("pods that wait for the setup Job: %v; want web-ui, web-api, worker and beat", lines)
	}
	figures.add(t, "release %s → %s rolled out in %s (%s); each new pod's application started after the upgrade was recorded: %s",
		oldRef, newRef, time.Since(t0).Round(time.Second), strings.Join(changed, ", "), strings.Join(lines, ", "))
	versionsAfter := strings.TrimSpace(pe.exec(ctx, "Deployment/web-api", "web-api", appVersion))
	revisionsAfter := strings.TrimSpace(pe.exec(ctx, "StatefulSet/postgresql", "postgresql", alembic))
	if pe.upgradeTo != "" {
		// A real upgrade: the pods run the new release's code, and the
		// schema is the new release's (its migrations applied).
		if !strings.HasPrefix(versionsBefore, invenioPrevious+" ") || !strings.HasPrefix(versionsAfter, invenioRelease+" ") {
			t.Errorf("invenio-app-rdm, invenio-rdm-records in web-api: %q before, %q after; want %s before and %s after",
				versionsBefore, versionsAfter, invenioPrevious, invenioRelease)
		}
		if templateAfter := hasProfileTemplate(); templateBefore || !templateAfter {
			t.Errorf("the member index's dynamic template user_profile: before the upgrade %v, after %v; want false, then true", templateBefore, templateAfter)
		}
		figures.add(t, "upgrade InvenioRDM %s → %s (invenio-app-rdm, invenio-rdm-records: %s → %s): alembic revisions %s → %s",
			invenioPrevious, invenioRelease, versionsBefore, versionsAfter, revisionDiff(revisionsBefore, revisionsAfter), revisionDiff(revisionsAfter, revisionsBefore))
	} else if versionsAfter != versionsBefore || revisionsAfter != revisionsBefore {
		t.Errorf("a new tag of the same release changed what runs: %q → %q, alembic %s → %s", versionsBefore, versionsAfter, revisionsBefore, revisionsAfter)
	}
	a.do(ctx, "GET", "/api/records/"+pe.record, nil, 200, nil)
	if ids := a.search(ctx, "\""+pe.recordTitle+"\""); len(ids) != 1 {
		t.Errorf("search after the release: %v", ids)
	}
	// The same Job again (kubectl delete job, Flux recreates it): the
	// upgrade branch again, the schema as it was.
	before := pe.exec(ctx, "StatefulSet/postgresql", "postgresql", alembic)
	run, err := pe.node.RunJob(ctx, "invenio-setup")
	if err != nil || !run.Succeeded || len(run.Pods) != 1 {
		t.Fatalf("the setup Job run again: %v %s (%d attempts)", err, run.Reason, len(run.Pods))
	}
	if after := pe.exec(ctx, "StatefulSet/postgresql", "postgresql", alembic); after != before {
		t.Errorf("the setup Job run again changed the schema: %s → %s", before, after)
	}
	if !strings.Contains(readLog(run.Pods[0]), "existing installation: upgrading") {
		t.Errorf("the setup Job run again did not take the upgrade branch:\n%s", readLog(run.Pods[0]))
	}
}

// revisionDiff lists the alembic revisions of a (comma-separated) that b
// does not have, or "none".
func revisionDiff(a, b string) string {
	have := map[string]bool{}
	for _, r := range strings.Split(b, ",") {
		have[r] = true
	}
	var out []string
	for _, r := range strings.Split(a, ",") {
		if r != "" && !have[r] {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return "[" + strings.Join(out, " ") + "]"
}
