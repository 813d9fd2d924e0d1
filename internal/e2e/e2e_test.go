//go:build e2e

// Package e2e proves the generated repository on a real control plane: every
// environment is admitted by a real kube-apiserver under Pod Security
// "restricted", its SealedSecrets are unsealed by the real sealed-secrets
// controller, and Flux's real kustomize-controller reconciles each cluster's
// layers from the repository, prunes what the description drops and undoes
// drift. Run with `make e2e` (it builds the binaries first); see
// docs/e2e.md for what is real and what is stood in for.
package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lbl.gov/invenio-gitops/generator/crds"
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
	"lbl.gov/invenio-gitops/internal/workcopy"
)

var (
	root        string // the repository under test
	platformctl string // the CLI, built once from ./cmd/platformctl
	tools       cluster.Tools
	runDir      string // one directory of process logs per test
)

func TestMain(m *testing.M) { os.Exit(mainE2E(m)) }

func mainE2E(m *testing.M) int {
	flag.Parse()
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	root = filepath.Clean(filepath.Join(wd, "..", ".."))
	if os.Getenv("E2E_BIN") == "" {
		if err := loadToolEnv(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	if tools, err = cluster.ToolsFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	runDir = os.Getenv("E2E_RUN_DIR")
	if runDir == "" {
		runDir = filepath.Join(os.Getenv("E2E_CACHE"), "runs", time.Now().UTC().Format("20060102T150405Z"))
	}
	bin, err := os.MkdirTemp("", "e2e-platformctl-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(bin)
	t0 := time.Now()
	if platformctl, err = workcopy.BuildCLI(root, bin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	phases.add("build platformctl", time.Since(t0))
	fmt.Printf("e2e: process logs under %s\n", runDir)
	code := m.Run()
	phases.print(os.Stdout, filepath.Join(runDir, "timings.txt"))
	return code
}

// loadToolEnv reads E2E_* from `scripts/e2e-tools.sh --print-env` (which
// only prints; `make e2e` builds first).
func loadToolEnv() error {
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "e2e-tools.sh"), "--print-env").Output()
	if err != nil {
		return fmt.Errorf("scripts/e2e-tools.sh --print-env: %w", err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && strings.HasPrefix(k, "E2E_") {
			os.Setenv(k, strings.Trim(v, `"'`))
		}
	}
	return nil
}

// phases records how long each phase of each test took.
var phases = &phaseLog{}

type phaseLog struct {
	mu   sync.Mutex
	rows [][2]string
}

func (p *phaseLog) add(name string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rows = append(p.rows, [2]string{name, fmt.Sprintf("%.1fs", d.Seconds())})
}

func (p *phaseLog) print(w *os.File, file string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	b.WriteString("e2e timings:\n")
	for _, r := range p.rows {
		fmt.Fprintf(&b, "  %-70s %8s\n", r[0], r[1])
	}
	fmt.Fprint(w, b.String())
	os.MkdirAll(filepath.Dir(file), 0o755)
	os.WriteFile(file, []byte(b.String()), 0o644)
}

// phase times f as one named phase of t.
func phase(t *testing.T, name string, f func()) {
	t.Helper()
	t0 := time.Now()
	defer func() { phases.add(t.Name()+": "+name, time.Since(t0)) }()
	t.Logf("--- %s", name)
	f()
}

// nodesFor sizes the simulated workers like the lab's: dev runs on one
// machine with the 12 cores and 30 GB seed 000 gives it; the other clusters
// on three Proxmox workers.
func nodesFor(clusterName string) []cluster.Node {
	if clusterName == "dev" {
		return []cluster.Node{{Name: "dev-worker-0", CPU: "12", Memory: "30Gi", Pods: 110}}
	}
	var nodes []cluster.Node
	for i := range 3 {
		nodes = append(nodes, cluster.Node{Name: fmt.Sprintf("%s-worker-%d", clusterName, i), CPU: "8", Memory: "32Gi", Pods: 110})
	}
	return nodes
}

// startCluster starts a control plane with the platform's CRDs installed.
func startCluster(t *testing.T, clusterName string) (*cluster.Cluster, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	var cl *cluster.Cluster
	phase(t, "start control plane + simulated nodes", func() {
		cl = cluster.Start(t, cluster.Options{Tools: tools, LogDir: filepath.Join(runDir, t.Name()), Nodes: nodesFor(clusterName)})
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs: %s", cl.LogDir)
		}
	})
	phase(t, "install CRDs (Flux, sealed-secrets, cert-manager, …)", func() {
		m, err := crds.Manifests()
		if err != nil {
			t.Fatal(err)
		}
		paths := make([]string, 0, len(m))
		for p := range m {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		var all [][]byte
		for _, p := range paths {
			all = append(all, m[p])
		}
		if err := cl.InstallCRDs(ctx, all); err != nil {
			t.Fatal(err)
		}
	})
	return cl, ctx
}
