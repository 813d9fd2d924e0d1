package kubelet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// capabilities by name, for securityContext.capabilities.add.
var capNumbers = map[string]int{"NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE, "CHOWN": unix.CAP_CHOWN,
	"SETUID": unix.CAP_SETUID, "SETGID": unix.CAP_SETGID, "DAC_OVERRIDE": unix.CAP_DAC_OVERRIDE, "FOWNER": unix.CAP_FOWNER,
	"KILL": unix.CAP_KILL, "NET_RAW": unix.CAP_NET_RAW, "SYS_CHROOT": unix.CAP_SYS_CHROOT}

// process is one run of a container: its first process, in its own mount,
// PID, UTS and IPC namespaces, in the pod's network namespace.
type process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	started time.Time
	stopSig syscall.Signal
	// what exec needs to enter it
	uid, gid int64
	groups   []int64
	caps     []string
	env      []string
	dir      string
	rootfs   *rootfs
}

// user returns the uid, gid and supplementary groups a container runs with.
func user(pod *corev1.PodSecurityContext, c *corev1.Container) (uid, gid int64, groups []int64, err error) {
	var u, g *int64
	if pod != nil {
		u, g = pod.RunAsUser, pod.RunAsGroup
	}
	if c.SecurityContext != nil {
		if c.SecurityContext.RunAsUser != nil {
			u = c.SecurityContext.RunAsUser
		}
		if c.SecurityContext.RunAsGroup != nil {
			g = c.SecurityContext.RunAsGroup
		}
	}
	if u == nil {
		return 0, 0, nil, fmt.Errorf("container %s: no runAsUser: the harness runs no container as the image's default user", c.Name)
	}
	uid = *u
	if g != nil {
		gid = *g
	}
	if pod != nil {
		if pod.FSGroup != nil {
			groups = append(groups, *pod.FSGroup)
		}
		groups = append(groups, pod.SupplementalGroups...)
	}
	return uid, gid, groups, nil
}

// startContainer starts one run of container c of pod p, writing its
// output to log.
func (p *Pod) startContainer(c *corev1.Container, run int, log *os.File) (*process, error) {
	img, err := p.node.images.Resolve(c.Image)
	if err != nil {
		return nil, fmt.Errorf("pod %s container %s: %w", p.Name, c.Name, err)
	}
	env, kube, err := p.containerEnv(img, c)
	if err != nil {
		return nil, fmt.Errorf("pod %s: %w", p.Name, err)
	}
	argv := img.Entrypoint
	args := img.Cmd
	if len(c.Command) > 0 {
		argv, args = expandArgs(c.Command, kube), nil
	}
	if len(c.Args) > 0 {
		args = expandArgs(c.Args, kube)
	}
	argv = append(append([]string{}, argv...), args...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("pod %s container %s: no command (image %s has neither ENTRYPOINT nor CMD)", p.Name, c.Name, c.Image)
	}
	stopSig, err := img.stopSignal()
	if err != nil {
		return nil, err
	}
	uid, gid, groups, err := user(p.spec.SecurityContext, c)
	if err != nil {
		return nil, err
	}
	var mounts []mount
	for _, vm := range c.VolumeMounts {
		v, ok := p.volumes[vm.Name]
		if !ok {
			return nil, fmt.Errorf("pod %s container %s: volumeMount %s: no such volume", p.Name, c.Name, vm.Name)
		}
		src := v.path
		if vm.SubPath != "" {
			src = filepath.Join(src, vm.SubPath)
		}
		mounts = append(mounts, mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly || v.readOnly})
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		return nil, fmt.Errorf("pod %s container %s: only read-only root filesystems are run here", p.Name, c.Name)
	}
	var keep []int
	var capNames []string
	if sc.Capabilities != nil {
		for _, a := range sc.Capabilities.Add {
			n, ok := capNumbers[string(a)]
			if !ok {
				return nil, fmt.Errorf("pod %s container %s: capability %s is not known here", p.Name, c.Name, a)
			}
			keep = append(keep, n)
			capNames = append(capNames, strings.ToLower(string(a)))
		}
	}
	netns, err := p.node.net.podNS(p.Slot)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(p.node.shm, filepath.Base(p.dir), fmt.Sprintf("%s-%d", c.Name, run))
	etc := p.node.etcFiles(p, img)
	rfs, err := newRootfs(dir, img, etc, mounts)
	if err != nil {
		return nil, fmt.Errorf("pod %s container %s: %w", p.Name, c.Name, err)
	}
	workdir := img.WorkingDir
	if c.WorkingDir != "" {
		workdir = c.WorkingDir
	}
	spec := initSpec{
		NetNS: netns, Hostname: p.Name, Root: rfs.root, Layers: rfs.layers, Mounts: rfs.mounts,
		ShmSize: 64 << 20, UID: uid, GID: gid, Groups: groups, KeepCaps: keep,
		NoNewPrivs: sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation,
		Dir:        workdir, Env: env, Argv: argv,
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	er, ew, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer er.Close()
	cmd := exec.Command(self)
	cmd.Env = []string{initEnv + "=1"}
	cmd.ExtraFiles = []*os.File{pr, ew}
	// A pipe, as a runtime gives it: `exec >/proc/1/fd/1` in a hook then
	// writes to the container's log.
	w := struct{ io.Writer }{log} // not an *os.File: exec makes a pipe
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	fmt.Fprintf(log, "# kubelet: %s %s run %d: %s (image %s: %s) as %d:%d groups %v\n", time.Now().UTC().Format(time.RFC3339), c.Name, run, strings.Join(argv, " "), c.Image, img.Runs, uid, gid, groups)
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		ew.Close()
		return nil, fmt.Errorf("pod %s container %s: %w", p.Name, c.Name, err)
	}
	pr.Close()
	ew.Close()
	if _, err := pw.Write(b); err != nil {
		pw.Close()
		_ = cmd.Process.Kill()
		return nil, err
	}
	pw.Close()
	proc := &process{cmd: cmd, done: make(chan struct{}), started: time.Now(), stopSig: stopSig, uid: uid, gid: gid, groups: groups,
		caps: capNames, env: env, dir: workdir, rootfs: rfs}
	go func() {
		proc.err = cmd.Wait()
		close(proc.done)
	}()
	// EOF once the command is executed (or the init failed).
	_, _ = io.Copy(io.Discard, er)
	return proc, nil
}

// exitCode is the process's exit status (128+signal when killed), or -1
// while it runs.
func (pr *process) exitCode() int {
	select {
	case <-pr.done:
	default:
		return -1
	}
	ws, ok := pr.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		return 1
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (pr *process) running() bool {
	select {
	case <-pr.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the container's first process (PID 1 inside).
func (pr *process) signal(sig syscall.Signal) error {
	return pr.cmd.Process.Signal(sig)
}

// stop is the kubelet's kill: the image's stop signal (SIGTERM unless
// its STOPSIGNAL says otherwise), then SIGKILL after the grace period.
func (pr *process) stop(grace time.Duration) {
	if !pr.running() {
		return
	}
	_ = pr.signal(pr.stopSig)
	select {
	case <-pr.done:
	case <-time.After(grace):
		_ = pr.signal(syscall.SIGKILL)
		<-pr.done
	}
}

// ExecResult is the outcome of a command run inside a container.
type ExecResult struct {
	Stdout, Stderr string
	ExitCode       int
	TimedOut       bool
}

// exec runs argv inside the running container as its user, with its
// environment and working directory, as `kubectl exec` and exec probes do.
func (pr *process) exec(ctx context.Context, argv []string, stdin []byte) (ExecResult, error) {
	if !pr.running() {
		return ExecResult{ExitCode: -1}, errors.New("container is not running")
	}
	groups := "--clear-groups"
	if len(pr.groups) > 0 {
		gs := make([]string, len(pr.groups))
		for i, g := range pr.groups {
			gs[i] = strconv.FormatInt(g, 10)
		}
		groups = "--groups=" + strings.Join(gs, ",")
	}
	bounding := "-all"
	for _, c := range pr.caps {
		bounding += ",+" + c
	}
	args := []string{"--target", strconv.Itoa(pr.cmd.Process.Pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
		"--", "/usr/bin/setpriv", "--reuid=" + strconv.FormatInt(pr.uid, 10), "--regid=" + strconv.FormatInt(pr.gid, 10), groups,
		"--bounding-set=" + bounding, "--no-new-privs", "--",
		"/usr/bin/env", "-i"}
	args = append(args, pr.env...)
	args = append(args, argv...)
	cmd := exec.Command("nsenter", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// A command may leave a daemon holding its output open (the Erlang CLI
	// of RabbitMQ's probes starts epmd): its result must not wait for it.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return ExecResult{ExitCode: -1}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res ExecResult
	select {
	case <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		// The command runs in the container's PID namespace, in the same
		// process group: killing the group reaches it.
		pr.killStrays(cmd.Process.Pid)
		<-done
		res.TimedOut = true
	}
	res.Stdout, res.Stderr = out.String(), errb.String()
	res.ExitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.ExitCode = 128 + int(ws.Signal())
	}
	return res, nil
}

// killStrays kills processes of the container left in the process group
// of an exec that timed out.
func (pr *process) killStrays(pgid int) {
	for _, q := range pr.processes() {
		if g, err := syscall.Getpgid(q.PID); err == nil && g == pgid {
			_ = syscall.Kill(q.PID, syscall.SIGKILL)
		}
	}
}

// Process is a process running in a container, as the node sees it.
type Process struct {
	PID     int    // on the node
	NSPID   int    // in the container (1: its first process)
	Comm    string // the executable's name
	Cmdline string
}

// nsPID is a process's PID in its innermost PID namespace.
func nsPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return 0
}

// processes lists the container's processes (those in its PID namespace).
func (pr *process) processes() []Process {
	if !pr.running() {
		return nil
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pr.cmd.Process.Pid))
	if err != nil {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []Process
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err != nil || l != ns {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, Process{PID: pid, NSPID: nsPID(pid), Comm: strings.TrimSpace(string(comm)), Cmdline: strings.TrimSpace(strings.ReplaceAll(string(cl), "\x00", " "))})
	}
	// In the container's order: node PIDs wrap around (pid_max), its don't
	// before they reach the node's.
	sort.Slice(out, func(i, j int) bool { return out[i].NSPID < out[j].NSPID })
	return out
}
