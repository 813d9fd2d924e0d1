package kubelet

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

const privateEnv = "KUBELET_PRIVATE_MOUNTS"

// Main runs a test binary's tests (run: m.Run, after any set-up) in a
// mount namespace of their own, so that whatever the node mounts (tmpfs
// volumes, network namespaces) is gone when the test binary is, however it
// ends. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(kubelet.Main(m.Run)) }
//
// It re-executes the test binary in a new mount namespace with private
// propagation and returns that run's exit code.
func Main(run func() int) int {
	if os.Getenv(privateEnv) != "" {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fmt.Fprintln(os.Stderr, "kubelet: making mounts private:", err)
			return 1
		}
		return run()
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "kubelet: the run-time tests need root (they make namespaces and mounts)")
		return 1
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), privateEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
