//go:build runtime

// Package runtimetest runs the generated environments on the real programs
// their images hold — InvenioRDM under uWSGI and Celery, nginx, PostgreSQL,
// Redis, RabbitMQ, OpenSearch, restic — with the generated configuration,
// the way a kubelet runs a pod (package kubelet), and checks that they do
// what the platform promises: install, serve, upload and download large
// files, survive killed processes, apply rotated passwords, back up and
// restore. `make runtime` (docs/runtime.md); it needs root.
package runtimetest

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lbl.gov/invenio-gitops/internal/kubelet"
	"lbl.gov/invenio-gitops/internal/workcopy"
)

var (
	root        string // the repository under test
	platformctl string
	installed   tools
	runDir      string // logs of every pod, kept after the run
)

func TestMain(m *testing.M) { os.Exit(kubelet.Main(func() int { return setup(m) })) }

func setup(m *testing.M) int {
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	env, err := toolEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "runtime:", err)
		return 1
	}
	installed = tools{Invenio: env["RUNTIME_INVENIO"], InvenioPrevious: env["RUNTIME_INVENIO_PREVIOUS"], OpenSearchHome: env["RUNTIME_OPENSEARCH_HOME"],
		Bin: env["RUNTIME_BIN"], PgAdmin: env["RUNTIME_PGADMIN"]}
	for _, v := range []struct {
		name string
		dir  *string
	}{{"RUNTIME_INVENIO", &installed.Invenio}, {"RUNTIME_INVENIO_PREVIOUS", &installed.InvenioPrevious}} {
		if d := os.Getenv(v.name); d != "" {
			*v.dir = d // another build of the stand-in, e.g. one being worked on
		}
	}
	for name, p := range map[string]string{"InvenioRDM " + invenioRelease: filepath.Join(installed.Invenio, ".done"),
		"InvenioRDM " + invenioPrevious: filepath.Join(installed.InvenioPrevious, ".done"), "OpenSearch": installed.OpenSearchHome, "restic": filepath.Join(installed.Bin, "restic"), "pgAdmin": filepath.Join(installed.PgAdmin, ".done")} {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(os.Stderr, "runtime: %s is not installed (%v): run scripts/runtime-tools.sh (make runtime does)\n", name, err)
			return 1
		}
	}
	runDir = os.Getenv("RUNTIME_RUN_DIR")
	if runDir == "" {
		runs := filepath.Join(env["RUNTIME_CACHE"], "runs")
		pruneRuns(runs, keptRuns)
		runDir = filepath.Join(runs, time.Now().UTC().Format(runName))
	}
	if err := lockRun(runDir); err != nil {
		fmt.Fprintln(os.Stderr, "runtime:", err)
		return 1
	}
	bin, err := os.MkdirTemp("", "runtime-platformctl-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	if platformctl, err = workcopy.BuildCLI(root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "runtime:", err)
		return 1
	}
	fmt.Printf("runtime: pod logs under %s\n", runDir)
	code := m.Run()
	figures.print(filepath.Join(runDir, "figures.txt"))
	return code
}

// keptRuns is how many earlier runs a run leaves under .cache/runtime/runs:
// each holds its pods' logs and its volumes' images, about 7 GB, and a
// machine that runs make runtime often would otherwise fill its disk.
const keptRuns = 2

// runName is the name of a run's directory under runs/: its start time,
// so that names sort in time order.
const runName = "20060102T150405Z"

// runLock is held open for the whole run: a run going on has its lock
// taken, and pruneRuns leaves it alone. (Its mounts cannot tell: each run
// makes them in a mount namespace of its own, kubelet.Main.)
var runLock *os.File

// lockRun makes the run directory and takes its lock, or says another run
// has it.
func lockRun(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("%s: another run is using it (%v)", dir, err)
	}
	runLock = f
	return nil
}

// pruneRuns removes the run directories under dir (those named by their
// start time) but the newest keep, and any whose run is going on (its lock
// taken).
func pruneRuns(dir string, keep int) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var runs []string
	for _, e := range entries {
		if _, err := time.Parse(runName, e.Name()); err == nil && e.IsDir() {
			runs = append(runs, filepath.Join(dir, e.Name()))
		}
	}
	for i := 0; i < len(runs)-keep; i++ {
		run := runs[i]
		if f, err := os.Open(filepath.Join(run, ".lock")); err == nil {
			busy := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil
			f.Close() // releases the lock taken just now
			if busy {
				fmt.Printf("runtime: keeping %s: its run is going on\n", run)
				continue
			}
		}
		if err := os.RemoveAll(run); err != nil {
			fmt.Fprintf(os.Stderr, "runtime: removing the earlier run %s: %v\n", run, err)
			continue
		}
		fmt.Printf("runtime: removed the earlier run %s (the newest %d are kept)\n", run, keep)
	}
}

// toolEnv reads the paths `scripts/runtime-tools.sh --print-env` prints.
func toolEnv() (map[string]string, error) {
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "runtime-tools.sh"), "--print-env").Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/runtime-tools.sh --print-env: %w", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = strings.Trim(v, `"'`)
		}
	}
	return env, nil
}

// figures are the measurements the run reports (README and docs/runtime.md
// quote them).
var figures = &figureLog{}

type figureLog struct {
	mu   sync.Mutex
	rows []string
}

func (f *figureLog) add(t *testing.T, format string, args ...any) {
	line := t.Name() + ": " + fmt.Sprintf(format, args...)
	t.Log(line)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, line)
}

func (f *figureLog) print(file string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	text := "runtime figures:\n  " + strings.Join(f.rows, "\n  ") + "\n"
	fmt.Print(text)
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, []byte(text), 0o644)
}
