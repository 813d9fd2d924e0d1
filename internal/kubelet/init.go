package kubelet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// initEnv marks a re-executed copy of the running binary as the first
// process of a container (see startContainer): it assembles the container's
// filesystem in its fresh mount namespace and then becomes the container's
// command, as runc's init does.
const initEnv = "KUBELET_CONTAINER_INIT"

// initSpec is everything the container's first process needs, passed as
// JSON on file descriptor 3.
type initSpec struct {
	NetNS    string `json:"netns"`    // the pod's network namespace (a path under /run/netns)
	Hostname string `json:"hostname"` // the pod's name
	Root     string `json:"root"`     // an empty directory the root filesystem is assembled on
	// Layers are read-only overlays, each of a skeleton (mount points the
	// layer lacks) over a host directory; the first one is "/".
	Layers []layer `json:"layers"`
	Mounts []mount `json:"mounts"` // volumes, in the order they are mounted
	// ShmSize is the size of /dev/shm in bytes when no volume is mounted there.
	ShmSize int64 `json:"shmSize"`

	UID        int64    `json:"uid"`
	GID        int64    `json:"gid"`
	Groups     []int64  `json:"groups"`
	KeepCaps   []int    `json:"keepCaps"`   // capabilities left in the bounding set (securityContext.capabilities.add)
	NoNewPrivs bool     `json:"noNewPrivs"` // allowPrivilegeEscalation: false
	Dir        string   `json:"dir"`
	Env        []string `json:"env"`
	Argv       []string `json:"argv"`
}

// layer is a read-only overlay at Target: Skeleton (holding mount points
// and generated files) over Source.
type layer struct {
	Target   string `json:"target"`
	Skeleton string `json:"skeleton"`
	Source   string `json:"source"`
}

// mount is one volume mount: a bind of a host directory or file, or a
// tmpfs (Source empty).
type mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly"`
	Size     int64  `json:"size,omitempty"` // tmpfs only, bytes
	Mode     uint32 `json:"mode,omitempty"` // tmpfs only
	GID      int64  `json:"gid,omitempty"`  // tmpfs only
}

func init() {
	if os.Getenv(initEnv) == "" {
		return
	}
	// Namespaces other than the mount namespace belong to a thread: keep
	// this one, which will exec the command, for the whole setup.
	runtime.LockOSThread()
	if err := containerInit(); err != nil {
		fmt.Fprintf(os.Stderr, "kubelet: container init: %v\n", err)
		os.Exit(128)
	}
}

func containerInit() error {
	// fd 4 is closed by the exec of the command (close-on-exec): the
	// kubelet waits for that before it runs hooks and probes, as a runtime
	// reports a container started only once its process runs.
	unix.CloseOnExec(4)
	f := os.NewFile(3, "spec")
	var s initSpec
	if err := json.NewDecoder(f).Decode(&s); err != nil {
		return fmt.Errorf("reading the spec: %w", err)
	}
	f.Close()
	if s.NetNS != "" {
		fd, err := unix.Open(s.NetNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("network namespace: %w", err)
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("joining the network namespace %s: %w", s.NetNS, err)
		}
		unix.Close(fd)
	}
	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return fmt.Errorf("hostname: %w", err)
	}
	if err := assembleRoot(&s); err != nil {
		return err
	}
	if err := enterRoot(s.Root); err != nil {
		return err
	}
	return become(&s)
}

// assembleRoot mounts the container's filesystem on s.Root: the layers,
// /proc, /sys, /dev, then the volumes. Nothing of it is visible outside
// this mount namespace.
func assembleRoot(s *initSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	for _, l := range s.Layers {
		target := filepath.Join(s.Root, l.Target)
		opts := "lowerdir=" + l.Skeleton + ":" + l.Source
		if err := unix.Mount("overlay", target, "overlay", unix.MS_RDONLY|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("layer %s (%s): %w", l.Target, l.Source, err)
		}
	}
	r := func(p string) string { return filepath.Join(s.Root, p) }
	if err := unix.Mount("proc", r("/proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/proc: %w", err)
	}
	if err := unix.Mount("sysfs", r("/sys"), "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/sys: %w", err)
	}
	if err := makeDev(r("/dev"), s); err != nil {
		return err
	}
	// Parents before children, as the kubelet orders a pod's mounts.
	ms := append([]mount(nil), s.Mounts...)
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Target) < depth(ms[j].Target) })
	for _, m := range ms {
		target := r(m.Target)
		if m.Source == "" {
			opts := fmt.Sprintf("mode=%o,gid=%d", m.Mode, m.GID)
			if m.Size > 0 {
				opts += fmt.Sprintf(",size=%d", m.Size)
			}
			if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
				return fmt.Errorf("volume at %s: %w", m.Target, err)
			}
			continue
		}
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("volume at %s (%s): %w", m.Target, m.Source, err)
		}
		if m.ReadOnly {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
				return fmt.Errorf("read-only volume at %s: %w", m.Target, err)
			}
		}
	}
	return nil
}

func depth(p string) int { return strings.Count(filepath.Clean(p), "/") }

// makeDev gives the container the device nodes a runtime gives it, a
// devpts instance and /dev/shm.
func makeDev(dev string, s *initSpec) error {
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dev, n)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+n, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("/dev/%s: %w", n, err)
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return fmt.Errorf("/dev/pts: %w", err)
	}
	if err := unix.Mount("mqueue", filepath.Join(dev, "mqueue"), "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("/dev/mqueue: %w", err)
	}
	for _, m := range s.Mounts {
		if filepath.Clean(m.Target) == "/dev/shm" {
			return nil
		}
	}
	if err := unix.Mount("shm", filepath.Join(dev, "shm"), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", s.ShmSize)); err != nil {
		return fmt.Errorf("/dev/shm: %w", err)
	}
	return nil
}

// enterRoot makes root the process's root directory, detaching the host's
// (runc's pivot_root(".", ".") sequence: no directory for the old root is
// needed in a read-only root).
func enterRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the host's root: %w", err)
	}
	return unix.Chdir("/")
}

// become drops to the pod's user and capabilities and executes the command.
func become(s *initSpec) error {
	keep := map[int]bool{}
	for _, c := range s.KeepCaps {
		keep[c] = true
	}
	for c := 0; c <= unix.CAP_LAST_CAP; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	// containerd's default open-files limit.
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1048576, Max: 1048576})
	// runc gives the container's stdio to its user (fixStdioPermissions):
	// `exec >/proc/1/fd/1` in a hook then works as it does on a node.
	for fd := 0; fd <= 2; fd++ {
		_ = unix.Fchown(fd, int(s.UID), int(s.GID))
	}
	groups := make([]int, 0, len(s.Groups))
	for _, g := range s.Groups {
		groups = append(groups, int(g))
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(int(s.GID)); err != nil {
		return fmt.Errorf("setgid: %w", err)
	}
	if err := syscall.Setuid(int(s.UID)); err != nil {
		return fmt.Errorf("setuid: %w", err)
	}
	// A change of credentials clears the parent-death signal: set it again
	// so the container dies with the harness.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return err
	}
	if s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	syscall.Umask(0o022)
	if s.Dir != "" {
		if err := os.Chdir(s.Dir); err != nil {
			return fmt.Errorf("working directory: %w", err)
		}
	}
	path, err := lookPath(s.Argv[0], s.Env)
	if err != nil {
		return err
	}
	return syscall.Exec(path, s.Argv, s.Env)
}

// lookPath finds argv0 on the container's PATH, as the runtime does.
func lookPath(argv0 string, env []string) (string, error) {
	if strings.Contains(argv0, "/") {
		return argv0, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, argv0)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in $PATH %s", argv0, path)
}
