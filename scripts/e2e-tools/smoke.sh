#!/usr/bin/env bash
# Smoke check of the e2e binaries built by scripts/e2e-tools.sh: starts a
# throw-away control plane on 127.0.0.1 (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler), kwok with one fake node, the
# sealed-secrets controller and Flux's kustomize-controller as local
# processes, and checks that
#   - a Deployment becomes Available and a Job Complete on the fake node,
#   - the sealed-secrets controller serves its certificate and unseals a
#     SealedSecret made with kubeseal,
#   - kustomize-controller starts and applies a Kustomization from an
#     artifact served on loopback (GitRepository status set by hand, as
#     source-controller does not run here).
# It also records what the API server's service proxy does with a local
# controller (it cannot reach it; see docs/e2e-tools.md).
#
# Everything runs under a temporary directory (kept, with every process's
# log, and printed at the end); every process is stopped on exit.
# kubectl is used by this script only (the product must not need it).
#
# Usage: scripts/e2e-tools/smoke.sh [--no-build]
#   --no-build         do not run scripts/e2e-tools.sh first (binaries must
#                      already be in .cache/e2e)
#   E2E_SMOKE_DIR=DIR  use DIR (created) instead of a new temp directory
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "smoke: unknown argument $arg" >&2; exit 2 ;;
  esac
done

T_START=$(date +%s.%N)
PHASE_NAME="" PHASE_T0=""
TIMINGS=()
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
phase() { # phase NAME: ends the previous phase, starts NAME
  if [ -n "$PHASE_NAME" ]; then
    local d; d="$(elapsed "$PHASE_T0")"
    TIMINGS+=("$(printf '%-42s %6ss' "$PHASE_NAME" "$d")")
    echo "smoke: --- $PHASE_NAME done in ${d}s"
  fi
  PHASE_NAME="$1"; PHASE_T0=$(date +%s.%N)
  [ -z "$1" ] || echo "smoke: --- $1"
}
say() { echo "smoke: $*"; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

if [ "$build" = 1 ]; then
  phase "e2e-tools.sh (build or reuse)"
  "$ROOT/scripts/e2e-tools.sh"
fi
eval "$("$ROOT/scripts/e2e-tools.sh" --print-env)"
for b in kube-apiserver kube-controller-manager kube-scheduler kwok kustomize-controller sealed-secrets-controller kubeseal; do
  [ -x "$E2E_BIN/$b" ] || fail "$E2E_BIN/$b missing: run scripts/e2e-tools.sh"
done
[ -x "$E2E_BIN/etcd" ] || fail "$E2E_BIN/etcd missing: run scripts/e2e-tools.sh"
command -v kubectl >/dev/null || fail "kubectl missing (the smoke script needs it)"

if [ -n "${E2E_SMOKE_DIR:-}" ]; then WORK="$E2E_SMOKE_DIR"; mkdir -p "$WORK"; else WORK="$(mktemp -d /tmp/e2e-smoke.XXXXXX)"; fi
say "work dir and logs: $WORK"

# Processes ------------------------------------------------------------------
NAMES=() PIDS=()
# Keep the script's stdout/stderr: a signal can run the trap while a
# redirected function (k ... >/dev/null) is executing.
exec 3>&1 4>&2
cleanup() {
  local rc=$? i pid
  trap - EXIT INT TERM
  exec 1>&3 2>&4
  phase "stop processes"
  # In reverse start order, one at a time: clients before the API server,
  # the API server before etcd.
  local t
  for (( i=${#PIDS[@]}-1; i>=0; i-- )); do
    pid=${PIDS[$i]}
    kill -TERM "$pid" 2>/dev/null || continue
    t=$(date +%s.%N)
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "${NAMES[$i]} (pid $pid) did not stop within 10s of TERM; killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    say "stopped ${NAMES[$i]} in $(elapsed "$t")s"
  done
  phase ""
  echo "smoke: timings:"
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %-42s %6ss\n' "total" "$(elapsed "$T_START")"
  if [ $rc = 0 ]; then
    echo "smoke: OK (logs in $WORK)"
  else
    echo "smoke: FAILED with status $rc (logs in $WORK); last lines of each log:" >&2
    for f in "$WORK"/*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, logging to $WORK/NAME.log.
start() {
  local name="$1"; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  NAMES+=("$name"); PIDS+=($!)
  say "started $name (pid $!)"
}
alive() { # alive NAME: fails if the process NAME exited
  local i
  for i in "${!NAMES[@]}"; do
    if [ "${NAMES[$i]}" = "$1" ]; then
      kill -0 "${PIDS[$i]}" 2>/dev/null || { tail -20 "$WORK/$1.log" >&2; fail "$1 exited"; }
      return 0
    fi
  done
}
# wait_for DESC TIMEOUT_S PROCESS CMD...: polls CMD until it succeeds.
wait_for() {
  local desc="$1" timeout="$2" proc="$3" t0; shift 3
  t0=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    [ -z "$proc" ] || alive "$proc"
    [ $(( $(date +%s) - t0 )) -lt "$timeout" ] || fail "timed out after ${timeout}s waiting for $desc"
    sleep 0.2
  done
  say "$desc: ok after $(( $(date +%s) - t0 ))s"
}

USED_PORTS=" "
free_port() { # a TCP port on 127.0.0.1 that nothing listens on
  local p
  while :; do
    p=$(( 20000 + RANDOM % 20000 ))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! ss -Htan "( sport = :$p )" 2>/dev/null | grep -q .; then
      USED_PORTS+="$p "; echo "$p"; return
    fi
  done
}

# PKI ------------------------------------------------------------------------
phase "certificates (openssl)"
PKI="$WORK/pki"; mkdir -p "$PKI"
openssl_q() { openssl "$@" >>"$WORK/openssl.log" 2>&1; }
openssl_q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 2 -subj "/CN=e2e-ca"
# sign NAME SUBJ EXT: a leaf certificate NAME.crt/NAME.key signed by the CA.
sign() {
  openssl_q req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "$2"
  printf '%b' "$3" >"$PKI/$1.ext"
  openssl_q x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 2 -out "$PKI/$1.crt" -extfile "$PKI/$1.ext"
}
SERVICE_CIDR=10.96.0.0/16
sign apiserver "/CN=kube-apiserver" \
  "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
sign admin "/O=system:masters/CN=e2e-admin" \
  "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
# Service-account token signing key (RSA: what kube-apiserver documents).
openssl_q genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key"
openssl_q pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

ETCD_PORT=$(free_port) ETCD_PEER_PORT=$(free_port) API_PORT=$(free_port)
KCM_PORT=$(free_port) SCHED_PORT=$(free_port)
SS_PORT=$(free_port) SS_METRICS_PORT=$(free_port)
KC_METRICS_PORT=$(free_port) KC_HEALTH_PORT=$(free_port) ART_PORT=$(free_port)
API="https://127.0.0.1:$API_PORT"

export KUBECONFIG="$WORK/admin.kubeconfig"
kubectl config set-cluster e2e --server="$API" --certificate-authority="$PKI/ca.crt" --embed-certs >/dev/null
kubectl config set-credentials e2e-admin --client-certificate="$PKI/admin.crt" --client-key="$PKI/admin.key" --embed-certs >/dev/null
kubectl config set-context e2e --cluster=e2e --user=e2e-admin >/dev/null
kubectl config use-context e2e >/dev/null
k() { kubectl --request-timeout=20s "$@"; }

# etcd -----------------------------------------------------------------------
phase "etcd"
start etcd "$E2E_BIN/etcd" --name e2e --data-dir "$WORK/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state new \
  --logger zap --log-level warn --quota-backend-bytes $((2*1024*1024*1024))
wait_for "etcd /health" 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# kube-apiserver ---------------------------------------------------------------
phase "kube-apiserver"
start kube-apiserver "$E2E_BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --cert-dir="$WORK/apiserver-certs" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --authorization-mode=RBAC \
  --allow-privileged=true \
  --endpoint-reconciler-type=none \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --profiling=false
wait_for "kube-apiserver /readyz" 90 kube-apiserver k get --raw /readyz
say "server version: $(k version -o json | jq -r .serverVersion.gitVersion)"

# kube-controller-manager, kube-scheduler --------------------------------------
phase "controller-manager + scheduler"
start kube-controller-manager "$E2E_BIN/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG" \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
  --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --leader-elect=false \
  --controllers='*' \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --use-service-account-credentials=false
start kube-scheduler "$E2E_BIN/kube-scheduler" \
  --kubeconfig="$KUBECONFIG" \
  --authentication-kubeconfig="$KUBECONFIG" --authorization-kubeconfig="$KUBECONFIG" \
  --bind-address=127.0.0.1 --secure-port="$SCHED_PORT" \
  --leader-elect=false
wait_for "kube-controller-manager /healthz" 60 kube-controller-manager curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "kube-scheduler /healthz" 60 kube-scheduler curl -fsSk "https://127.0.0.1:$SCHED_PORT/healthz"
wait_for "default service account" 60 kube-controller-manager k -n default get serviceaccount default

# kwok and a fake node -----------------------------------------------------------
phase "kwok + fake node"
KWOK_CONFIG="$WORK/kwok-stages.yaml"
: >"$KWOK_CONFIG"
for f in "$E2E_KWOK_STAGES"/node/fast/*.yaml "$E2E_KWOK_STAGES"/node/heartbeat/*.yaml "$E2E_KWOK_STAGES"/pod/fast/*.yaml; do
  { echo "---"; cat "$f"; } >>"$KWOK_CONFIG"
done
start kwok "$E2E_BIN/kwok" \
  --kubeconfig="$KUBECONFIG" \
  --config="$KWOK_CONFIG" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.0/16 --node-ip=10.243.0.1
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-worker-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-worker-0
    kubernetes.io/os: linux
    node-role.kubernetes.io/worker: ""
    type: kwok
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "8", memory: 32Gi, pods: "110", ephemeral-storage: 100Gi}
EOF
wait_for "node kwok-worker-0 Ready" 60 kwok k wait --for=condition=Ready node/kwok-worker-0 --timeout=1s

# Workloads ----------------------------------------------------------------------
phase "Deployment Available + Job Complete"
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: smoke
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: smoke}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: registry.invalid/busybox:1.36
        command: ["httpd", "-f", "-p", "8080"]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: setup, namespace: smoke}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: setup
        image: registry.invalid/busybox:1.36
        command: ["true"]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
EOF
wait_for "deployment/web Available" 90 kwok k -n smoke wait --for=condition=Available deployment/web --timeout=1s
wait_for "job/setup Complete" 90 kwok k -n smoke wait --for=condition=Complete job/setup --timeout=1s
k -n smoke get pods -o wide >"$WORK/smoke-pods.txt" 2>&1 || true
sed 's/^/  /' "$WORK/smoke-pods.txt"

# sealed-secrets -------------------------------------------------------------------
phase "sealed-secrets controller"
k apply --server-side -f "$E2E_CRDS/sealed-secrets/" >/dev/null
k -n kube-system create serviceaccount sealed-secrets-controller >/dev/null
k create clusterrolebinding sealed-secrets-controller --clusterrole=cluster-admin \
  --serviceaccount=kube-system:sealed-secrets-controller >/dev/null
# The controller only supports in-cluster configuration (rest.InClusterConfig:
# KUBERNETES_SERVICE_HOST/PORT plus token and CA at the fixed path
# /var/run/secrets/kubernetes.io/serviceaccount). Give it those in a private
# mount namespace (tmpfs over /run) so that nothing is written on the host.
SA_DIR="$WORK/sealed-secrets-sa"; mkdir -p "$SA_DIR"
k -n kube-system create token sealed-secrets-controller --duration=2h >"$SA_DIR/token"
cp "$PKI/ca.crt" "$SA_DIR/ca.crt"; echo kube-system >"$SA_DIR/namespace"
start sealed-secrets-controller env \
  KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$API_PORT" POD_NAMESPACE=kube-system \
  unshare --mount sh -c '
    set -e
    mount -t tmpfs -o mode=0755 e2e-run /run
    mkdir -p /run/secrets/kubernetes.io/serviceaccount
    cp "$0"/token "$0"/ca.crt "$0"/namespace /run/secrets/kubernetes.io/serviceaccount/
    exec "$@"' "$SA_DIR" \
  "$E2E_BIN/sealed-secrets-controller" \
    --listen-addr="127.0.0.1:$SS_PORT" --listen-metrics-addr="127.0.0.1:$SS_METRICS_PORT" \
    --key-renew-period=0 --update-status=true
wait_for "sealed-secrets /healthz" 60 sealed-secrets-controller curl -fsS "http://127.0.0.1:$SS_PORT/healthz"
curl -fsS "http://127.0.0.1:$SS_PORT/v1/cert.pem" >"$WORK/sealing-cert.pem"
openssl x509 -in "$WORK/sealing-cert.pem" -noout -subject -enddate | sed 's/^/  sealing cert: /'
k -n kube-system get secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o name | sed 's/^/  key: /'

phase "kubeseal (local cert) + unseal"
kubectl -n smoke create secret generic db --from-literal=password=s3cr3t --dry-run=client -o yaml \
  | "$E2E_BIN/kubeseal" --cert "http://127.0.0.1:$SS_PORT/v1/cert.pem" -o yaml >"$WORK/db-sealed.yaml"
k apply -f "$WORK/db-sealed.yaml" >/dev/null
wait_for "Secret smoke/db unsealed" 60 sealed-secrets-controller k -n smoke get secret db
[ "$(k -n smoke get secret db -o jsonpath='{.data.password}' | base64 -d)" = s3cr3t ] || fail "unsealed value differs"
say "unsealed value matches"

phase "kubeseal --fetch-cert via service proxy"
# A Service without selector for the controller, as the Helm chart names it.
k -n kube-system apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: sealed-secrets-controller, namespace: kube-system}
spec:
  ports:
  - {name: http, port: 8080, targetPort: $SS_PORT}
EOF
PROXY_NOTES="$WORK/service-proxy.txt"
: >"$PROXY_NOTES"
note() { echo "$*" | tee -a "$PROXY_NOTES" | sed 's/^/  /'; }
note "Service kube-system/sealed-secrets-controller (no selector, port http -> $SS_PORT): $(k -n kube-system get service sealed-secrets-controller -o name)"
if out=$(k -n kube-system apply -f - 2>&1 <<EOF
apiVersion: v1
kind: Endpoints
metadata: {name: sealed-secrets-controller, namespace: kube-system}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: $SS_PORT}]
EOF
); then note "Endpoints with 127.0.0.1: accepted"; else note "Endpoints with 127.0.0.1: rejected: $out"; fi
if out=$(k -n kube-system apply -f - 2>&1 <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: sealed-secrets-controller-local
  namespace: kube-system
  labels: {kubernetes.io/service-name: sealed-secrets-controller}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1]}]
ports: [{name: http, port: $SS_PORT, protocol: TCP}]
EOF
); then note "EndpointSlice with 127.0.0.1: accepted"; else note "EndpointSlice with 127.0.0.1: rejected: $out"; fi
if out=$(k get --raw "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:http/proxy/v1/cert.pem" 2>&1); then
  note "GET services/http:sealed-secrets-controller:http/proxy/v1/cert.pem: worked"
else
  note "GET services/http:sealed-secrets-controller:http/proxy/v1/cert.pem: failed: $(echo "$out" | tail -1)"
fi
if out=$(timeout 30 "$E2E_BIN/kubeseal" --kubeconfig "$KUBECONFIG" --controller-namespace kube-system \
      --controller-name sealed-secrets-controller --fetch-cert 2>&1); then
  note "kubeseal --fetch-cert through the API server proxy: worked"
else
  note "kubeseal --fetch-cert through the API server proxy: failed: $(echo "$out" | tail -1)"
fi

# kustomize-controller ----------------------------------------------------------------
phase "kustomize-controller start"
k apply --server-side -f "$E2E_CRDS/kustomize-controller/" -f "$E2E_CRDS/source-controller/" >/dev/null
k create namespace flux-system >/dev/null
wait_for "Flux CRDs established" 30 "" k wait --for=condition=Established \
  crd/kustomizations.kustomize.toolkit.fluxcd.io crd/gitrepositories.source.toolkit.fluxcd.io --timeout=1s
start kustomize-controller env KUBECONFIG="$KUBECONFIG" RUNTIME_NAMESPACE=flux-system \
  "$E2E_BIN/kustomize-controller" \
    --watch-all-namespaces=true \
    --enable-leader-election=false \
    --metrics-addr="127.0.0.1:$KC_METRICS_PORT" \
    --health-addr="127.0.0.1:$KC_HEALTH_PORT" \
    --events-addr="" \
    --log-level=info --log-encoding=console
wait_for "kustomize-controller /readyz" 60 kustomize-controller curl -fsS "http://127.0.0.1:$KC_HEALTH_PORT/readyz"
wait_for "kustomize-controller workers started" 60 kustomize-controller grep -q 'Starting workers' "$WORK/kustomize-controller.log"

phase "Kustomization from a loopback artifact"
ART="$WORK/artifacts"; mkdir -p "$ART/src/app"
cat >"$ART/src/app/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: from-flux, namespace: smoke}
data: {hello: world}
EOF
tar -C "$ART/src" -czf "$ART/smoke.tar.gz" app
DIGEST="sha256:$(sha256sum "$ART/smoke.tar.gz" | cut -d' ' -f1)"
SIZE=$(stat -c %s "$ART/smoke.tar.gz")
start artifact-server python3 -m http.server --bind 127.0.0.1 --directory "$ART" "$ART_PORT"
wait_for "artifact server" 30 artifact-server curl -fsS -o /dev/null "http://127.0.0.1:$ART_PORT/smoke.tar.gz"
k apply -f - >/dev/null <<'EOF'
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: smoke, namespace: flux-system}
spec:
  url: https://git.invalid/smoke.git
  interval: 10m
  ref: {branch: main}
EOF
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
REV="main@sha1:$(printf smoke | sha1sum | cut -d' ' -f1)"
k -n flux-system patch gitrepository smoke --subresource=status --type=merge -p "{
  \"status\": {
    \"observedGeneration\": 1,
    \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\", \"reason\": \"Succeeded\",
      \"message\": \"stored artifact for revision '$REV'\", \"lastTransitionTime\": \"$NOW\", \"observedGeneration\": 1}],
    \"artifact\": {\"path\": \"gitrepository/flux-system/smoke/smoke.tar.gz\",
      \"url\": \"http://127.0.0.1:$ART_PORT/smoke.tar.gz\", \"revision\": \"$REV\",
      \"digest\": \"$DIGEST\", \"lastUpdateTime\": \"$NOW\", \"size\": $SIZE}}}" >/dev/null
k apply -f - >/dev/null <<'EOF'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: smoke, namespace: flux-system}
spec:
  interval: 10m
  path: ./app
  prune: true
  sourceRef: {kind: GitRepository, name: smoke}
EOF
wait_for "Kustomization flux-system/smoke Ready" 90 kustomize-controller \
  k -n flux-system wait --for=condition=Ready kustomization/smoke --timeout=1s
[ "$(k -n smoke get configmap from-flux -o jsonpath='{.data.hello}')" = world ] || fail "ConfigMap from Flux missing"
say "ConfigMap smoke/from-flux applied by kustomize-controller"

phase ""
say "all checks passed"
echo "smoke: service proxy findings:"; sed 's/^/  /' "$PROXY_NOTES"
