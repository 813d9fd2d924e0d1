package kubelet

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Pod is one pod run on the node: init containers one after the other,
// then its containers, each restarted by its restart policy, with probes
// and lifecycle hooks as the kubelet runs them.
type Pod struct {
	node   *Node
	Name   string
	Slot   string // the workload it belongs to ("Deployment/web-ui"): its network identity
	IP     net.IP
	Labels map[string]string

	spec    corev1.PodSpec
	dir     string
	volumes map[string]*volume

	mu     sync.Mutex
	ctrs   map[string]*containerState
	phase  corev1.PodPhase
	reason string
	stopCh chan struct{}
	done   chan struct{}
	events *os.File
}

// containerState is what the kubelet tracks of one container.
type containerState struct {
	c        *corev1.Container
	init     bool
	proc     *process
	run      int // runs started
	restarts int
	backoffN int  // restarts since the last ten minutes of running
	started  bool // startup probe passed (or none)
	ready    bool
	lastExit int
	lastKill string // why the kubelet last killed it
	firstRun time.Time
	log      *os.File
}

// ContainerStatus is a container's state as `kubectl get pod` shows it.
type ContainerStatus struct {
	Name     string
	Running  bool
	Ready    bool
	Started  bool
	Restarts int
	// FirstStarted is when its first run started (the container's
	// process, after its pod's init containers).
	FirstStarted time.Time
	LastExit     int
	LastKill     string
	PID          int // of its first process on the node, when running
}

func (n *Node) newPod(name, slot string, labels map[string]string, spec corev1.PodSpec) (*Pod, error) {
	// A StatefulSet's replacement pod has the same name: each instance
	// gets a directory of its own (name, then name.2, name.3, …).
	dir := filepath.Join(n.dir, "pods", name)
	for i := 2; ; i++ {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			break
		}
		dir = filepath.Join(n.dir, "pods", fmt.Sprintf("%s.%d", name, i))
	}
	p := &Pod{node: n, Name: name, Slot: slot, IP: n.net.ip(slot), Labels: labels, spec: *spec.DeepCopy(),
		dir: dir, ctrs: map[string]*containerState{}, phase: corev1.PodPending,
		stopCh: make(chan struct{}), done: make(chan struct{})}
	if err := os.MkdirAll(filepath.Join(p.dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if p.events, err = os.OpenFile(filepath.Join(p.dir, "events.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	for i := range p.spec.InitContainers {
		c := &p.spec.InitContainers[i]
		if err := p.addContainer(c, true); err != nil {
			return nil, err
		}
	}
	for i := range p.spec.Containers {
		c := &p.spec.Containers[i]
		if err := p.addContainer(c, false); err != nil {
			return nil, err
		}
	}
	// Every image must have a stand-in before anything starts.
	for _, cs := range p.ctrs {
		if _, err := n.images.Resolve(cs.c.Image); err != nil {
			return nil, fmt.Errorf("pod %s container %s: %w", name, cs.c.Name, err)
		}
	}
	return p, nil
}

func (p *Pod) addContainer(c *corev1.Container, init bool) error {
	f, err := os.OpenFile(filepath.Join(p.dir, "logs", c.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.ctrs[c.Name] = &containerState{c: c, init: init, log: f}
	return nil
}

// Eventf records what the kubelet did, in the pod's events.log.
func (p *Pod) Eventf(format string, args ...any) {
	fmt.Fprintf(p.events, "%s %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// LogPath is the path of a container's log (every run appended).
func (p *Pod) LogPath(container string) string {
	return filepath.Join(p.dir, "logs", container+".log")
}

// Spec is the pod's spec as the node runs it.
func (p *Pod) Spec() corev1.PodSpec { return *p.spec.DeepCopy() }

// Dir is the pod's directory on the node (logs, events, volumes).
func (p *Pod) Dir() string { return p.dir }

func (p *Pod) restartPolicy() corev1.RestartPolicy {
	if p.spec.RestartPolicy == "" {
		return corev1.RestartPolicyAlways
	}
	return p.spec.RestartPolicy
}

// start runs the pod in the background.
func (p *Pod) start() error {
	if err := p.prepareVolumes(); err != nil {
		p.releaseVolumes()
		return err
	}
	p.Eventf("pod %s scheduled, IP %s", p.Name, p.IP)
	go p.run()
	return nil
}

func (p *Pod) stopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return false
	}
}

func (p *Pod) setPhase(ph corev1.PodPhase, reason string) {
	p.mu.Lock()
	p.phase, p.reason = ph, reason
	p.mu.Unlock()
	p.Eventf("phase %s %s", ph, reason)
}

func (p *Pod) run() {
	defer close(p.done)
	defer p.releaseVolumes()
	for i := range p.spec.InitContainers {
		cs := p.ctrs[p.spec.InitContainers[i].Name]
		if !p.runInit(cs) {
			return
		}
	}
	p.setPhase(corev1.PodRunning, "")
	var wg sync.WaitGroup
	for i := range p.spec.Containers {
		cs := p.ctrs[p.spec.Containers[i].Name]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.runContainer(cs)
		}()
	}
	wg.Wait()
	if p.stopping() {
		return
	}
	for _, cs := range p.ctrs {
		if !cs.init && cs.lastExit != 0 {
			p.setPhase(corev1.PodFailed, fmt.Sprintf("container %s exited with %d", cs.c.Name, cs.lastExit))
			return
		}
	}
	p.setPhase(corev1.PodSucceeded, "")
}

// runInit runs an init container to success; false when the pod fails or
// is stopped.
func (p *Pod) runInit(cs *containerState) bool {
	for {
		if p.stopping() {
			return false
		}
		proc, err := p.startRun(cs)
		if err != nil {
			p.Eventf("init container %s: %v", cs.c.Name, err)
			p.setPhase(corev1.PodFailed, err.Error())
			return false
		}
		select {
		case <-proc.done:
		case <-p.stopCh:
			proc.stop(p.grace())
			return false
		}
		code := proc.exitCode()
		p.mu.Lock()
		cs.lastExit = code
		p.mu.Unlock()
		p.Eventf("init container %s exited with %d", cs.c.Name, code)
		if code == 0 {
			return true
		}
		if p.restartPolicy() == corev1.RestartPolicyNever {
			p.setPhase(corev1.PodFailed, fmt.Sprintf("init container %s exited with %d", cs.c.Name, code))
			return false
		}
		if !p.backoff(cs) {
			return false
		}
	}
}

// startRun starts the next run of a container.
func (p *Pod) startRun(cs *containerState) (*process, error) {
	p.mu.Lock()
	run := cs.run
	cs.run++
	p.mu.Unlock()
	proc, err := p.startContainer(cs.c, run, cs.log)
	if err != nil {
		fmt.Fprintf(cs.log, "# kubelet: cannot start: %v\n", err)
		return nil, err
	}
	p.mu.Lock()
	cs.proc, cs.started, cs.ready = proc, cs.c.StartupProbe == nil, false
	if cs.firstRun.IsZero() {
		cs.firstRun = time.Now()
	}
	p.mu.Unlock()
	p.Eventf("container %s started (run %d, pid %d)", cs.c.Name, run, proc.cmd.Process.Pid)
	return proc, nil
}

// backoff waits before a restart as the kubelet's CrashLoopBackOff does:
// at once the first time, then 10 s doubling up to 5 minutes (reset after
// ten minutes of running). False when the pod is stopped meanwhile.
func (p *Pod) backoff(cs *containerState) bool {
	p.mu.Lock()
	if cs.proc != nil && time.Since(cs.proc.started) > 10*time.Minute {
		cs.backoffN = 0
	}
	n := cs.backoffN
	cs.backoffN++
	cs.restarts++
	p.mu.Unlock()
	delay := time.Duration(0)
	if n > 0 {
		delay = 10 * time.Second << (n - 1)
		if delay > 5*time.Minute {
			delay = 5 * time.Minute
		}
	}
	if delay > 0 {
		p.Eventf("container %s: back-off %s before restarting", cs.c.Name, delay)
	}
	select {
	case <-time.After(delay):
		return true
	case <-p.stopCh:
		return false
	}
}

func (p *Pod) grace() time.Duration {
	if p.spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// runContainer runs a container until the pod stops or its restart
// policy says it is done.
func (p *Pod) runContainer(cs *containerState) {
	for {
		if p.stopping() {
			return
		}
		proc, err := p.startRun(cs)
		if err != nil {
			// CreateContainerConfigError and the like: a defect of the
			// manifests (or of a stand-in), not something a retry mends.
			p.Eventf("container %s: %v", cs.c.Name, err)
			p.mu.Lock()
			cs.lastExit = 128
			p.mu.Unlock()
			p.setPhase(corev1.PodFailed, fmt.Sprintf("container %s cannot start: %v", cs.c.Name, err))
			return
		} else {
			ctx, cancel := context.WithCancel(context.Background())
			kill := make(chan string, 4)
			if h := cs.c.Lifecycle; h != nil && h.PostStart != nil {
				// The hook runs alongside the container's process; a hook
				// that fails gets the container killed.
				go p.postStart(ctx, cs, proc, kill)
			} else {
				go p.probe(ctx, cs, proc, kill)
			}
			select {
			case <-proc.done:
			case why := <-kill:
				p.Eventf("container %s: killing: %s", cs.c.Name, why)
				p.mu.Lock()
				cs.lastKill = why
				p.mu.Unlock()
				proc.stop(p.grace())
			case <-p.stopCh:
				cancel()
				p.preStop(cs, proc)
				proc.stop(p.grace())
				p.recordExit(cs, proc)
				return
			}
			cancel()
			p.recordExit(cs, proc)
		}
		code := cs.lastExit
		switch p.restartPolicy() {
		case corev1.RestartPolicyNever:
			return
		case corev1.RestartPolicyOnFailure:
			if code == 0 {
				return
			}
		}
		if !p.backoff(cs) {
			return
		}
	}
}

func (p *Pod) recordExit(cs *containerState, proc *process) {
	<-proc.done
	code := proc.exitCode()
	p.mu.Lock()
	cs.lastExit, cs.ready = code, false
	p.mu.Unlock()
	p.Eventf("container %s exited with %d", cs.c.Name, code)
}

func (p *Pod) postStart(ctx context.Context, cs *containerState, proc *process, kill chan<- string) {
	h := cs.c.Lifecycle.PostStart
	if h.Exec == nil {
		kill <- "postStart: only exec hooks are supported here"
		return
	}
	res, err := proc.exec(ctx, h.Exec.Command, nil)
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		kill <- "FailedPostStartHook: " + err.Error()
		return
	case res.ExitCode != 0:
		p.Eventf("container %s: postStart hook exited with %d: %s", cs.c.Name, res.ExitCode, strings.TrimSpace(res.Stdout+res.Stderr))
		kill <- fmt.Sprintf("FailedPostStartHook: exit code %d", res.ExitCode)
		return
	}
	p.Eventf("container %s: postStart hook done", cs.c.Name)
	p.probe(ctx, cs, proc, kill)
}

func (p *Pod) preStop(cs *containerState, proc *process) {
	h := cs.c.Lifecycle
	if h == nil || h.PreStop == nil || h.PreStop.Exec == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.grace())
	defer cancel()
	_, _ = proc.exec(ctx, h.PreStop.Exec.Command, nil)
}

// probe runs the startup probe, then liveness and readiness, until ctx ends.
func (p *Pod) probe(ctx context.Context, cs *containerState, proc *process, kill chan<- string) {
	c := cs.c
	if c.StartupProbe != nil {
		if !p.probeLoop(ctx, cs, proc, "startup", c.StartupProbe, func(ok bool, failures, threshold int, err error) bool {
			if ok {
				p.mu.Lock()
				cs.started = true
				p.mu.Unlock()
				p.Eventf("container %s: startup probe succeeded", c.Name)
				return false
			}
			if failures >= threshold {
				kill <- fmt.Sprintf("startup probe failed %d times: %v", failures, err)
				return false
			}
			return true
		}) {
			return
		}
	}
	if c.ReadinessProbe == nil {
		p.mu.Lock()
		cs.ready = true
		p.mu.Unlock()
	} else {
		go p.probeLoop(ctx, cs, proc, "readiness", c.ReadinessProbe, func(ok bool, failures, threshold int, err error) bool {
			p.mu.Lock()
			was := cs.ready
			if ok {
				cs.ready = true
			} else if failures >= threshold {
				cs.ready = false
			}
			now := cs.ready
			p.mu.Unlock()
			if was != now {
				p.Eventf("container %s: ready=%v (%v)", c.Name, now, err)
			}
			return true
		})
	}
	if c.LivenessProbe != nil {
		p.probeLoop(ctx, cs, proc, "liveness", c.LivenessProbe, func(ok bool, failures, threshold int, err error) bool {
			if !ok && failures >= threshold {
				kill <- fmt.Sprintf("liveness probe failed %d times: %v", failures, err)
				return false
			}
			return true
		})
	}
}

// probeLoop runs a probe every period after its initial delay and calls
// f with each result and the count of consecutive failures; it stops when
// f returns false (then it returns true) or ctx ends (false).
func (p *Pod) probeLoop(ctx context.Context, cs *containerState, proc *process, kind string, pr *corev1.Probe, f func(ok bool, failures, threshold int, err error) bool) bool {
	period, delay, threshold := probeTiming(pr)
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return false
	}
	failures := 0
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		err := p.probeOnce(ctx, cs.c, proc, pr)
		if ctx.Err() != nil {
			return false
		}
		if err == nil {
			failures = 0
		} else {
			failures++
			p.Eventf("container %s: %s probe failed (%d/%d): %v", cs.c.Name, kind, failures, threshold, err)
		}
		if !f(err == nil, failures, threshold, err) {
			return true
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return false
		}
	}
}

// Stop deletes the pod: every container gets SIGTERM (after its preStop
// hook), SIGKILL after the grace period, and the pod's emptyDirs go.
func (p *Pod) Stop() {
	select {
	case <-p.stopCh:
	default:
		close(p.stopCh)
	}
	<-p.done
	p.setPhase(p.Phase(), "deleted")
}

// Done is closed when the pod has ended.
func (p *Pod) Done() <-chan struct{} { return p.done }

// Phase is the pod's phase.
func (p *Pod) Phase() corev1.PodPhase {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase
}

// Reason says why a pod failed.
func (p *Pod) Reason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reason
}

// Status reports a container's state.
func (p *Pod) Status(container string) (ContainerStatus, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cs, ok := p.ctrs[container]
	if !ok {
		return ContainerStatus{}, false
	}
	st := ContainerStatus{Name: container, Ready: cs.ready, Started: cs.started, Restarts: cs.restarts, FirstStarted: cs.firstRun, LastExit: cs.lastExit, LastKill: cs.lastKill}
	if cs.proc != nil && cs.proc.running() {
		st.Running, st.PID = true, cs.proc.cmd.Process.Pid
	}
	return st, true
}

// Ready reports whether every container is running and ready.
func (p *Pod) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase != corev1.PodRunning {
		return false
	}
	for _, cs := range p.ctrs {
		if cs.init {
			continue
		}
		if cs.proc == nil || !cs.proc.running() || !cs.ready {
			return false
		}
	}
	return true
}

// NotReady lists the containers that are not ready, with why.
func (p *Pod) NotReady() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for name, cs := range p.ctrs {
		if cs.init {
			continue
		}
		switch {
		case cs.proc == nil:
			out = append(out, name+": not started")
		case !cs.proc.running():
			out = append(out, fmt.Sprintf("%s: exited %d", name, cs.lastExit))
		case !cs.ready:
			out = append(out, name+": not ready")
		}
	}
	return fmt.Sprintf("phase %s %s; %s", p.phase, p.reason, strings.Join(out, ", "))
}

// WaitReady waits until the pod is ready, it fails, or d passes.
func (p *Pod) WaitReady(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if p.Ready() {
			return nil
		}
		switch p.Phase() {
		case corev1.PodFailed, corev1.PodSucceeded:
			return fmt.Errorf("pod %s ended: %s", p.Name, p.NotReady())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s not ready after %s: %s (events: %s)", p.Name, d, p.NotReady(), filepath.Join(p.dir, "events.log"))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// current is a container's current run, if it has one.
func (p *Pod) current(container string) *process {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cs, ok := p.ctrs[container]; ok {
		return cs.proc
	}
	return nil
}

// Exec runs argv in a running container, as `kubectl exec` does.
func (p *Pod) Exec(ctx context.Context, container string, stdin []byte, argv ...string) (ExecResult, error) {
	proc := p.current(container)
	if proc == nil {
		return ExecResult{ExitCode: -1}, fmt.Errorf("pod %s has no running container %s", p.Name, container)
	}
	return proc.exec(ctx, argv, stdin)
}

// Processes lists a running container's processes.
func (p *Pod) Processes(container string) []Process {
	proc := p.current(container)
	if proc == nil {
		return nil
	}
	return proc.processes()
}

// Signal sends sig to a process of the pod (by its PID on the node).
func (p *Pod) Signal(pid int, sig syscall.Signal) error {
	return syscall.Kill(pid, sig)
}
