package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnvoyGatewayControllerName is the controllerName Envoy Gateway's chart
// configures and a GatewayClass names to be served by it.
const EnvoyGatewayControllerName = "gateway.envoyproxy.io/gatewayclass-controller"

// envoyGatewayPorts are the ports Envoy Gateway v1.9.1 binds whatever its
// configuration says (constants in its source): controller-runtime's
// metrics (:8080) and health probes (:8081), the xDS server
// (0.0.0.0:18000) and the Wasm cache (:18002). Two controllers cannot run
// on one machine at once.
var envoyGatewayPorts = []int{8080, 8081, 18000, 18002}

// EnvoyGateway is the running Envoy Gateway controller.
type EnvoyGateway struct {
	Namespace string
	// Log is the controller's log file.
	Log  string
	proc *process
}

// LogTail is the last n lines of the controller's log.
func (g *EnvoyGateway) LogTail(n int) string { return Tail(g.Log, n) }

// Exited reports an error (with the log's tail) if the controller is gone.
func (g *EnvoyGateway) Exited() error { return g.proc.exited() }

// StartEnvoyGateway runs the real Envoy Gateway controller (envoy-gateway,
// built by scripts/e2e-tools.sh) against the cluster as its chart's
// Deployment runs it: `envoy-gateway server --config-path=…` with the
// Kubernetes provider, controllerName
// gateway.envoyproxy.io/gatewayclass-controller, ENVOY_GATEWAY_NAMESPACE=ns,
// after `envoy-gateway certgen` (the chart's certgen Job) has created the
// control-plane certificates as Secrets in ns. Differences from the chart,
// each because the controller is a local process here: leader election is
// off (one replica), the topology-injector webhook is off (the chart, not
// the controller, registers it), the admin listener is on a free loopback
// port and the Prometheus listener is off.
//
// The controller reads its xDS certificates from /certs (a constant in its
// source: the chart mounts the envoy-gateway Secret there), so it runs in a
// private mount namespace whose root is a tmpfs with the host's top-level
// directories bind-mounted into it, plus /certs (the Secret's files) and
// /var/lib/eg/wasm (the chart's emptyDir): nothing is written on the host.
// It needs root (CI runs as root), as StartSealedSecrets does.
func (c *Cluster) StartEnvoyGateway(ctx context.Context, ns string) (*EnvoyGateway, error) {
	bin := filepath.Join(c.tools.Bin, "envoy-gateway")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w (run scripts/e2e-tools.sh envoy-gateway)", err)
	}
	if busy := busyPorts(envoyGatewayPorts); len(busy) > 0 {
		return nil, fmt.Errorf("ports %v are in use (another Envoy Gateway, perhaps another e2e run?): envoy-gateway v1.9.1 binds %v whatever its configuration says", busy, envoyGatewayPorts)
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	env := []string{"KUBECONFIG=" + c.Kubeconfig, "ENVOY_GATEWAY_NAMESPACE=" + ns, "KUBERNETES_CLUSTER_DOMAIN=cluster.local"}

	// The certgen Job: Secrets envoy-gateway, envoy, envoy-rate-limit
	// (tls.crt, tls.key, ca.crt) and envoy-oidc-hmac in ns.
	certgen := exec.CommandContext(ctx, bin, "certgen", "--disable-topology-injector")
	certgen.Env = append(os.Environ(), env...)
	out, err := certgen.CombinedOutput()
	os.WriteFile(filepath.Join(c.LogDir, "envoy-gateway-certgen.log"), out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("envoy-gateway certgen: %v\n%s", err, out)
	}
	sec, err := c.Client.CoreV1().Secrets(ns).Get(ctx, "envoy-gateway", metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("the Secret certgen makes for the controller: %w", err)
	}
	certs := filepath.Join(c.LogDir, "envoy-gateway-certs")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		return nil, err
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if len(sec.Data[k]) == 0 {
			return nil, fmt.Errorf("Secret %s/envoy-gateway has no %s", ns, k)
		}
		if err := os.WriteFile(filepath.Join(certs, k), sec.Data[k], 0o600); err != nil {
			return nil, err
		}
	}

	admin, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	config := filepath.Join(c.LogDir, "envoy-gateway.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway:
  controllerName: %s
provider:
  type: Kubernetes
  kubernetes:
    leaderElection:
      disable: true
logging:
  level:
    default: info
proxyTopologyInjector:
  disabled: true
admin:
  address:
    host: 127.0.0.1
    port: %d
telemetry:
  metrics:
    prometheus:
      disable: true
`, EnvoyGatewayControllerName, admin[0])), 0o644); err != nil {
		return nil, err
	}
	root := filepath.Join(c.LogDir, "envoy-gateway-root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	// $0 = the new root (an empty directory), $1 = the certificates.
	const inNamespace = `set -e
r="$0"; certs="$1"; shift
mount -t tmpfs -o mode=0755 e2e-root "$r"
for d in /*; do
  n="${d#/}"
  if [ -L "$d" ]; then ln -s "$(readlink "$d")" "$r/$n"
  elif [ -d "$d" ]; then
    mkdir "$r/$n"
    [ "$n" = var ] || mount --rbind "$d" "$r/$n"
  fi
done
mkdir -p "$r/certs" "$r/var/lib/eg/wasm" "$r/var/tmp"
mount --bind -o ro "$certs" "$r/certs"
exec chroot "$r" "$@"`
	p, err := c.run("envoy-gateway", env, "unshare", "--mount", "sh", "-c", inNamespace, root, certs,
		bin, "server", "--config-path="+config)
	if err != nil {
		return nil, err
	}
	g := &EnvoyGateway{Namespace: ns, Log: p.log, proc: p}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := poll(wctx, "envoy-gateway /readyz", 250*time.Millisecond, []*process{p}, httpOK("http://127.0.0.1:8081/readyz", false)); err != nil {
		return g, fmt.Errorf("%w\nlast lines of %s:\n%s", err, p.log, Tail(p.log, 30))
	}
	return g, nil
}

// busyPorts are the ports of list that something listens on (any address).
func busyPorts(list []int) []int {
	var busy []int
	for _, port := range list {
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			busy = append(busy, port)
			continue
		}
		l.Close()
	}
	return busy
}
