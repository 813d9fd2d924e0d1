#!/usr/bin/env bash
# Builds, with pinned versions, the real binaries that the e2e tests run on
# loopback: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, kustomize-controller, sealed-secrets controller,
# kubeseal, and Envoy Gateway's controller (envoy-gateway) and egctl. It
# also copies the kwok stage files and the CRD manifests the tests apply out
# of the pinned Go modules. Everything lands in
# <repo>/.cache/e2e (git-ignored) and is reused when already there.
#
# Each binary is built from a wrapper module under scripts/e2e-tools/<name>/
# whose go.mod and go.sum pin every dependency, so builds are read-only
# (-mod=readonly) and need no GONOSUMDB. See docs/e2e-tools.md.
#
# Usage: scripts/e2e-tools.sh [--force] [--update-sums] [--print-env] [NAME...]
#   NAME           build only these wrappers (etcd, kubernetes, kwok,
#                  kustomize-controller, sealed-secrets, envoy-gateway,
#                  crds); default all
#   --force        rebuild even when the cached binaries are up to date
#   --update-sums  regenerate go.mod/go.sum of the wrappers first
#                  (go mod tidy with GOFLAGS=-mod=mod and GONOSUMDB), for
#                  when a pinned version is changed
#   --print-env    only print the paths (as shell assignments) and exit
# Environment: E2E_CACHE overrides <repo>/.cache/e2e.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WRAPPERS="$ROOT/scripts/e2e-tools"
CACHE="${E2E_CACHE:-$ROOT/.cache/e2e}"
BIN="$CACHE/bin"
STAMPS="$CACHE/stamps"
LOGS="$CACHE/logs"
STAGES="$CACHE/kwok-stages"
CRDS="$CACHE/crds"

# Bump to force every cached binary to be rebuilt after a change to how they
# are built (flags below).
BUILD_REV=1

# Pinned versions. The wrapper go.mod files are the source of truth; these
# are only used for -ldflags and messages and are checked against go.mod.
ETCD_VERSION=v3.5.21
K8S_VERSION=v1.32.6
KWOK_VERSION=v0.8.0
KUSTOMIZE_CONTROLLER_VERSION=v1.9.5
SEALED_SECRETS_VERSION=v0.36.1
SOURCE_CONTROLLER_VERSION=v1.9.6
ENVOY_GATEWAY_VERSION=v1.9.1

ALL=(etcd kubernetes kwok kustomize-controller sealed-secrets envoy-gateway crds)

force=0
update_sums=0
selected=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --update-sums) update_sums=1 ;;
    --print-env)
      printf 'E2E_CACHE=%q\nE2E_BIN=%q\nE2E_KWOK_STAGES=%q\nE2E_CRDS=%q\n' "$CACHE" "$BIN" "$STAGES" "$CRDS"
      exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "e2e-tools: unknown option $arg" >&2; exit 2 ;;
    *) selected+=("$arg") ;;
  esac
done
[ ${#selected[@]} -gt 0 ] || selected=("${ALL[@]}")

log() { printf 'e2e-tools: %s\n' "$*"; }
die() { printf 'e2e-tools: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }

mkdir -p "$BIN" "$STAMPS" "$LOGS"
export CGO_ENABLED=0
# Builds must not touch the wrappers' go.mod/go.sum nor consult the checksum
# database: everything is pinned in the committed go.sum.
export GOFLAGS="-mod=readonly -buildvcs=false"
export GOTOOLCHAIN=local
unset GONOSUMDB GONOSUMCHECK GONOVERIFY

GO_VERSION="$(go env GOVERSION)"
GOOS_ARCH="$(go env GOOS)/$(go env GOARCH)"

# Go builds --------------------------------------------------------------------
# wrapper_hash DIR EXTRA: hash of what determines the binaries of a wrapper.
wrapper_hash() {
  { cat "$1/go.mod" "$1/go.sum"; echo "$GO_VERSION $GOOS_ARCH $BUILD_REV $2"; } | sha256sum | cut -c1-16
}

update_sums() {
  local dir="$WRAPPERS/$1"
  if [ "$1" = crds ]; then
    # No package is imported from this module, so `go mod tidy` would drop
    # the requirement: pin it and record its checksums only.
    log "$1: regenerating go.mod/go.sum (go mod download, -mod=mod, GONOSUMDB)"
    ( cd "$dir" && rm -f go.sum &&
      go mod edit -require="github.com/fluxcd/source-controller@$SOURCE_CONTROLLER_VERSION" &&
      GONOSUMDB=k8s.io,sigs.k8s.io,github.com GOFLAGS=-mod=mod \
        go mod download "github.com/fluxcd/source-controller" )
    return
  fi
  log "$1: regenerating go.mod/go.sum (go mod tidy, -mod=mod, GONOSUMDB)"
  ( cd "$dir" && GONOSUMDB=k8s.io,sigs.k8s.io,github.com,go.etcd.io GOFLAGS=-mod=mod go mod tidy )
}

require_version() { # wrapper module version
  grep -Eq "^require $2 $3\$|^[[:space:]]$2 $3( |\$)" "$WRAPPERS/$1/go.mod" \
    || die "$1/go.mod does not require $2 $3 (update the pins in $0)"
}

# build WRAPPER LDFLAGS NAME=PACKAGE...
build() {
  local wrapper="$1" ldflags="$2"; shift 2
  local dir="$WRAPPERS/$wrapper" hash missing=() spec name pkg t0 logf
  hash="$(wrapper_hash "$dir" "$ldflags")"
  for spec in "$@"; do
    name="${spec%%=*}"
    if [ "$force" = 1 ] || [ ! -x "$BIN/$name" ] || [ "$(cat "$STAMPS/$name" 2>/dev/null)" != "$hash" ]; then
      missing+=("$spec")
    else
      log "reusing $BIN/$name ($wrapper wrapper, stamp $hash)"
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  logf="$LOGS/build-$wrapper.log"
  : >"$logf"
  for spec in "${missing[@]}"; do
    name="${spec%%=*}"; pkg="${spec#*=}"
    log "building $name from $pkg ($wrapper wrapper; log: $logf)"
    t0=$(now)
    if ! ( cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$pkg" ) >>"$logf" 2>&1; then
      tail -40 "$logf" >&2
      rm -f "$BIN/$name.tmp"
      die "building $name failed (full log: $logf)"
    fi
    mv -f "$BIN/$name.tmp" "$BIN/$name"
    echo "$hash" >"$STAMPS/$name"
    log "built $name in $(( $(now) - t0 ))s"
  done
}

# module_dir WRAPPER MODULE: the module's directory in the module cache,
# downloaded (and checked against the wrapper's go.sum) if needed.
module_dir() {
  ( cd "$WRAPPERS/$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2" )
}

# copy_tree SRC DST: copies *.yaml files (not testdata, not kustomization.yaml).
copy_yaml() {
  local src="$1" dst="$2" f
  mkdir -p "$dst"
  for f in "$src"/*.yaml; do
    case "$(basename "$f")" in kustomization.yaml) continue ;; esac
    install -m 0644 "$f" "$dst/"
  done
}

# stage_files WRAPPER KEY DESC FUNCTION [EXTRA]: runs FUNCTION (which fills a
# directory) unless the stamp KEY matches the wrapper's go.mod/go.sum (and
# EXTRA).
stage_files() {
  local wrapper="$1" key="$2" desc="$3" fn="$4" hash
  hash="$(wrapper_hash "$WRAPPERS/$wrapper" "$key ${5:-}")"
  if [ "$force" != 1 ] && [ "$(cat "$STAMPS/$key" 2>/dev/null)" = "$hash" ]; then
    log "reusing $desc (stamp $hash)"
    return
  fi
  "$fn"
  echo "$hash" >"$STAMPS/$key"
  log "copied $desc"
}

copy_kwok_stages() {
  local dir; dir="$(module_dir kwok sigs.k8s.io/kwok)"
  rm -rf "$STAGES"; mkdir -p "$STAGES"
  # node/fast + node/heartbeat: nodes become Ready and stay so.
  # pod/fast: pods become Running/Ready at once, pods owned by a Job Succeed
  #   (so Jobs complete), deleted pods go away.
  # pod/general and volume/fast are copied too but are alternatives, not to be
  # combined with pod/fast (pod/general has delays); see docs/e2e-tools.md.
  local s
  for s in node/fast node/heartbeat pod/fast pod/general volume/fast; do
    copy_yaml "$dir/kustomize/stage/$s" "$STAGES/$s"
  done
  echo "sigs.k8s.io/kwok $KWOK_VERSION" >"$STAGES/VERSION"
}

copy_crds() {
  local d
  rm -rf "$CRDS"; mkdir -p "$CRDS"
  d="$(module_dir sealed-secrets github.com/bitnami-labs/sealed-secrets)"
  copy_yaml "$d/helm/sealed-secrets/crds" "$CRDS/sealed-secrets"
  d="$(module_dir kustomize-controller github.com/fluxcd/kustomize-controller)"
  copy_yaml "$d/config/crd/bases" "$CRDS/kustomize-controller"
  d="$(module_dir crds github.com/fluxcd/source-controller)"
  copy_yaml "$d/config/crd/bases" "$CRDS/source-controller"
  # Envoy Gateway's own CRDs (EnvoyProxy, BackendTrafficPolicy, …) as its
  # gateway-crds-helm chart installs them: the controller watches each one
  # that exists. Only the chart's `{{- if …}}`/`{{- end }}` lines are dropped.
  d="$(module_dir envoy-gateway github.com/envoyproxy/gateway)"
  local f
  mkdir -p "$CRDS/envoy-gateway"
  for f in "$d"/charts/gateway-crds-helm/templates/generated/*.yaml; do
    grep -v '^{{' "$f" >"$CRDS/envoy-gateway/$(basename "$f")"
  done
  cat >"$CRDS/VERSION" <<EOF
github.com/bitnami-labs/sealed-secrets $SEALED_SECRETS_VERSION
github.com/fluxcd/kustomize-controller $KUSTOMIZE_CONTROLLER_VERSION
github.com/fluxcd/source-controller $SOURCE_CONTROLLER_VERSION
github.com/envoyproxy/gateway $ENVOY_GATEWAY_VERSION
EOF
}

# The CRD stamp depends on four wrappers; hash them together.
crds_key() { cat "$WRAPPERS"/{sealed-secrets,kustomize-controller,envoy-gateway}/go.sum | sha256sum | cut -c1-16; }

do_wrapper() {
  local w="$1" t0; t0=$(now)
  [ "$update_sums" = 1 ] && update_sums "$w"
  case "$w" in
    etcd)
      # Debian's etcd 3.4.23 lacks watch progress requests, which the API
      # server needs to serve streaming lists (kwok's client-go asks for
      # them; without them its pod watch fails and retries with backoff).
      require_version etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
      build etcd "" etcd=go.etcd.io/etcd/server/v3
      ;;
    kubernetes)
      require_version kubernetes k8s.io/kubernetes "$K8S_VERSION"
      local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
      local lf="" p
      # What the upstream build (hack/lib/version.sh) stamps, so that the
      # API server reports v1.32.x to clients (kubectl, controllers).
      for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        lf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
        lf+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
      done
      build kubernetes "${lf# }" \
        kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
        kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
        kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
      ;;
    kwok)
      require_version kwok sigs.k8s.io/kwok "$KWOK_VERSION"
      build kwok "" kwok=sigs.k8s.io/kwok/cmd/kwok
      stage_files kwok kwok-stages "kwok stage files in $STAGES" copy_kwok_stages
      ;;
    kustomize-controller)
      require_version kustomize-controller github.com/fluxcd/kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION"
      build kustomize-controller "" kustomize-controller=github.com/fluxcd/kustomize-controller
      ;;
    sealed-secrets)
      require_version sealed-secrets github.com/bitnami-labs/sealed-secrets "$SEALED_SECRETS_VERSION"
      build sealed-secrets "-X main.VERSION=$SEALED_SECRETS_VERSION" \
        sealed-secrets-controller=github.com/bitnami-labs/sealed-secrets/cmd/controller \
        kubeseal=github.com/bitnami-labs/sealed-secrets/cmd/kubeseal
      ;;
    envoy-gateway)
      # The Gateway API implementation the generator installs: the
      # controller runs against the e2e API server, egctl translates the
      # generated objects into Envoy xDS (internal/e2e/gateway_test.go).
      # Both from one module: the second build reuses the first's cache.
      require_version envoy-gateway github.com/envoyproxy/gateway "$ENVOY_GATEWAY_VERSION"
      build envoy-gateway "-X github.com/envoyproxy/gateway/internal/cmd/version.envoyGatewayVersion=$ENVOY_GATEWAY_VERSION" \
        envoy-gateway=github.com/envoyproxy/gateway/cmd/envoy-gateway \
        egctl=github.com/envoyproxy/gateway/cmd/egctl
      ;;
    crds)
      require_version crds github.com/fluxcd/source-controller "$SOURCE_CONTROLLER_VERSION"
      stage_files crds crds "CRDs in $CRDS" copy_crds "$(crds_key)"
      ;;
    *) die "unknown wrapper $w (known: ${ALL[*]})" ;;
  esac
  log "$w: done in $(( $(now) - t0 ))s"
}

T0=$(now)
for w in "${selected[@]}"; do do_wrapper "$w"; done
log "all done in $(( $(now) - T0 ))s; binaries in $BIN"
