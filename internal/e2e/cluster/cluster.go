// Package cluster is the end-to-end harness: it starts a throw-away
// Kubernetes control plane on 127.0.0.1 from the real binaries that
// scripts/e2e-tools.sh builds (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler), simulated nodes (kwok), and on request the real
// sealed-secrets controller and Flux kustomize-controller, each a local
// process with its own ports and a log file. What cannot run here is
// stood in for and says so: source-controller (the harness serves the
// repository as an artifact and sets the GitRepository status), helm-controller
// (HelmReleases and HelmRepositories are marked Ready), and a storage
// provisioner (a PersistentVolume is created for every claim).
package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Tools locates the binaries and files scripts/e2e-tools.sh prepares.
type Tools struct {
	Bin        string // kube-apiserver, kube-controller-manager, kube-scheduler, kwok, kustomize-controller, sealed-secrets-controller, envoy-gateway, egctl
	KwokStages string // kwok's stage files (node/fast, node/heartbeat, pod/fast)
	Etcd       string // etcd (3.5, built: the API server's watch-list streams need its progress requests)
}

// ToolsFromEnv reads E2E_BIN and E2E_KWOK_STAGES (as printed by
// `scripts/e2e-tools.sh --print-env`).
func ToolsFromEnv() (Tools, error) {
	t := Tools{Bin: os.Getenv("E2E_BIN"), KwokStages: os.Getenv("E2E_KWOK_STAGES")}
	if t.Bin == "" || t.KwokStages == "" {
		return t, errors.New("E2E_BIN and E2E_KWOK_STAGES are not set: run `make e2e` (it builds the tools with scripts/e2e-tools.sh and sets them)")
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kustomize-controller", "sealed-secrets-controller"} {
		if _, err := os.Stat(filepath.Join(t.Bin, b)); err != nil {
			return t, fmt.Errorf("%s: %w (run scripts/e2e-tools.sh)", b, err)
		}
	}
	t.Etcd = filepath.Join(t.Bin, "etcd")
	if _, err := os.Stat(t.Etcd); err != nil {
		return t, fmt.Errorf("etcd: %w (run scripts/e2e-tools.sh)", err)
	}
	return t, nil
}

// Node is a simulated worker (kwok), sized like a real one.
type Node struct {
	Name   string
	CPU    string
	Memory string
	Pods   int
}

// Options configure a control plane.
type Options struct {
	Tools Tools
	// LogDir receives one log per process and the kubeconfig.
	LogDir string
	Nodes  []Node
}

// Cluster is a running control plane with simulated nodes.
type Cluster struct {
	Config     *rest.Config
	Kubeconfig string
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	PKI        *PKI
	APIPort    int
	LogDir     string
	tools      Tools
	// Warnings collects every warning the API server returned to Config.
	Warnings *WarningLog

	mu    sync.Mutex
	procs []*process
	stops []func()
}

const serviceCIDR = "10.96.0.0/16"

// Start brings up etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler and kwok with opt.Nodes, and stops them all when t ends.
func Start(t testing.TB, opt Options) *Cluster {
	t.Helper()
	c, err := start(opt)
	if c != nil {
		t.Cleanup(c.Stop)
	}
	if err != nil {
		t.Fatalf("control plane: %v (logs in %s)", err, opt.LogDir)
	}
	return c
}

func start(opt Options) (*Cluster, error) {
	if err := os.MkdirAll(opt.LogDir, 0o755); err != nil {
		return nil, err
	}
	c := &Cluster{LogDir: opt.LogDir, tools: opt.Tools}
	pki, err := NewPKI(filepath.Join(opt.LogDir, "pki"), net.IPv4(10, 96, 0, 1))
	if err != nil {
		return nil, err
	}
	c.PKI = pki
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	etcdPort, etcdPeer, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	c.APIPort = apiPort
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	etcd, err := c.run("etcd", nil, opt.Tools.Etcd, "--name", "e2e", "--data-dir", filepath.Join(opt.LogDir, "etcd-data"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn", "--quota-backend-bytes", strconv.Itoa(2<<30))
	if err != nil {
		return c, err
	}
	if err := poll(ctx, "etcd", 100*time.Millisecond, []*process{etcd}, httpOK(etcdURL+"/health", false)); err != nil {
		return c, err
	}

	apiserver, err := c.run("kube-apiserver", nil, filepath.Join(opt.Tools.Bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+pki.APIServerCert, "--tls-private-key-file="+pki.APIServerKey,
		"--cert-dir="+filepath.Join(opt.LogDir, "apiserver-certs"),
		"--client-ca-file="+pki.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+pki.SAPub, "--service-account-signing-key-file="+pki.SAKey,
		"--service-cluster-ip-range="+serviceCIDR,
		"--authorization-mode=RBAC",
		// No kubelet answers for 127.0.0.1 as an endpoint of the kubernetes Service.
		"--endpoint-reconciler-type=none",
		// Aggregation needs a front-proxy CA; the admin CA stands in.
		"--requestheader-client-ca-file="+pki.CACert, "--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--profiling=false")
	if err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(opt.LogDir, "admin.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, "https://127.0.0.1:"+strconv.Itoa(apiPort), pki); err != nil {
		return c, err
	}
	c.Warnings = &WarningLog{}
	c.Config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(apiPort),
		TLSClientConfig: rest.TLSClientConfig{CAFile: pki.CACert, CertFile: pki.AdminCert, KeyFile: pki.AdminKey},
		QPS:             200, Burst: 400,
		WarningHandler: c.Warnings,
		Timeout:        30 * time.Second,
	}
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		return c, err
	}
	if c.Dynamic, err = dynamic.NewForConfig(c.Config); err != nil {
		return c, err
	}
	if err := poll(ctx, "kube-apiserver /readyz", 200*time.Millisecond, []*process{apiserver}, func(ctx context.Context) error {
		_, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	}); err != nil {
		return c, err
	}

	kcm, err := c.run("kube-controller-manager", nil, filepath.Join(opt.Tools.Bin, "kube-controller-manager"),
		"--kubeconfig="+c.Kubeconfig, "--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(kcmPort),
		"--leader-elect=false", "--controllers=*",
		"--service-account-private-key-file="+pki.SAKey, "--root-ca-file="+pki.CACert,
		"--service-cluster-ip-range="+serviceCIDR,
		"--use-service-account-credentials=false",
		// Rollouts and Job retries without waiting for real kubelets.
		"--concurrent-deployment-syncs=10", "--concurrent-statefulset-syncs=10")
	if err != nil {
		return c, err
	}
	sched, err := c.run("kube-scheduler", nil, filepath.Join(opt.Tools.Bin, "kube-scheduler"),
		"--kubeconfig="+c.Kubeconfig, "--authentication-kubeconfig="+c.Kubeconfig, "--authorization-kubeconfig="+c.Kubeconfig,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(schedPort), "--leader-elect=false",
		// Level 2 logs every binding with its time: where a slow rollout waited.
		"--v=2")
	if err != nil {
		return c, err
	}
	for _, hc := range []struct {
		p    *process
		port int
	}{{kcm, kcmPort}, {sched, schedPort}} {
		if err := poll(ctx, hc.p.name+" /healthz", 200*time.Millisecond, []*process{hc.p}, httpOK(fmt.Sprintf("https://127.0.0.1:%d/healthz", hc.port), true)); err != nil {
			return c, err
		}
	}
	if err := poll(ctx, "the default ServiceAccount", 200*time.Millisecond, []*process{kcm}, func(ctx context.Context) error {
		_, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return c, err
	}
	if err := c.startKwok(ctx, opt.Nodes); err != nil {
		return c, err
	}
	return c, nil
}

// run starts a process and registers it for Stop.
func (c *Cluster) run(name string, env []string, path string, args ...string) (*process, error) {
	p, err := startProcess(c.LogDir, name, env, path, args...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

// OnStop registers f to run first when the cluster stops (background loops).
func (c *Cluster) OnStop(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stops = append(c.stops, f)
}

// Stop ends background loops, then every process in reverse start order
// (clients before the API server, the API server before etcd).
func (c *Cluster) Stop() {
	c.mu.Lock()
	stops, procs := c.stops, c.procs
	c.stops, c.procs = nil, nil
	c.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].stop()
	}
	// The logs stay for debugging; etcd's data (tens of MB) does not.
	os.RemoveAll(filepath.Join(c.LogDir, "etcd-data"))
}

// Alive reports the first started process that has exited.
func (c *Cluster) Alive() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if err := p.exited(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startKwok(ctx context.Context, nodes []Node) error {
	var stages strings.Builder
	for _, dir := range []string{"node/fast", "node/heartbeat", "pod/fast"} {
		files, _ := filepath.Glob(filepath.Join(c.tools.KwokStages, dir, "*.yaml"))
		if len(files) == 0 {
			return fmt.Errorf("no kwok stages in %s", filepath.Join(c.tools.KwokStages, dir))
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			stages.WriteString("---\n")
			stages.Write(b)
			stages.WriteString("\n")
		}
	}
	config := filepath.Join(c.LogDir, "kwok-stages.yaml")
	if err := os.WriteFile(config, []byte(stages.String()), 0o644); err != nil {
		return err
	}
	kwok, err := c.run("kwok", nil, filepath.Join(c.tools.Bin, "kwok"),
		"--kubeconfig="+c.Kubeconfig, "--config="+config,
		"--manage-all-nodes=false", "--manage-nodes-with-annotation-selector="+kwokAnnotation+"=fake",
		"--cidr=10.244.0.0/16", "--node-ip=10.243.0.1")
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, fakeNode(n), metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("node %s: %w", n.Name, err)
		}
	}
	return poll(ctx, "simulated nodes Ready", 200*time.Millisecond, []*process{kwok}, func(ctx context.Context) error {
		for _, n := range nodes {
			node, err := c.Client.CoreV1().Nodes().Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !nodeReady(node) {
				return fmt.Errorf("node %s not Ready", n.Name)
			}
		}
		return nil
	})
}

const kwokAnnotation = "kwok.x-k8s.io/node"

func fakeNode(n Node) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(n.CPU),
		corev1.ResourceMemory:           resource.MustParse(n.Memory),
		corev1.ResourcePods:             *resource.NewQuantity(int64(n.Pods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        n.Name,
			Annotations: map[string]string{kwokAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels: map[string]string{
				"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", "kubernetes.io/hostname": n.Name,
				"node-role.kubernetes.io/worker": "", "type": "kwok",
			},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func writeKubeconfig(path, server string, pki *PKI) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: pki.CACert}
	cfg.AuthInfos["e2e-admin"] = &clientcmdapi.AuthInfo{ClientCertificate: pki.AdminCert, ClientKey: pki.AdminKey}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e-admin"}
	cfg.CurrentContext = "e2e"
	return clientcmd.WriteToFile(*cfg, path)
}

// WarningLog is a rest.WarningHandler that keeps every warning.
type WarningLog struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *WarningLog) HandleWarningHeader(code int, agent, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// Take returns the warnings since the last call and forgets them.
func (w *WarningLog) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}
