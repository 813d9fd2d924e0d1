#!/usr/bin/env bash
# Regenerate the CustomResourceDefinitions committed under generator/crds/,
# which package generator/crds embeds to validate generated Flux,
# SealedSecret and cert-manager objects against the real OpenAPI schemas of
# the pinned controllers. Tests never download anything: run this script
# after bumping a pin below or in go.mod, then review `git diff`.
#
#   bash scripts/crds.sh
#
# Sources, one directory per project (the kinds the generator emits, and
# what the e2e harness needs to run the real controllers):
#
#   flux/           Kustomization, GitRepository, OCIRepository, Bucket,
#                   ExternalArtifact (every source kind kustomize-controller
#                   watches: it will not start without them),
#                   HelmRepository, HelmChart, HelmRelease. Generated with
#                   controller-gen (version below) from the Go API
#                   modules pinned in go.mod (github.com/fluxcd/*/api), then
#                   compared with the CRDs each controller ships in
#                   config/crd/bases/ of its main module at the same version.
#                   As of kustomize-controller v1.9.6, source-controller
#                   v1.9.6 and helm-controller v1.6.5 the two are identical
#                   except for the controller-gen.kubebuilder.io/version
#                   annotation (Flux builds with controller-gen v0.21.0). If
#                   they ever differ in anything else, the shipped file wins
#                   and this script says so. helm-controller's main module is
#                   not served by the Go module proxy (403), so its CRD can
#                   only come from controller-gen; the API sources of
#                   helm-controller/api v1.6.5 are byte-identical to v1.6.3,
#                   whose shipped CRD equals the controller-gen output.
#   sealed-secrets/ SealedSecret, helm/sealed-secrets/crds/ of
#                   github.com/bitnami-labs/sealed-secrets (version from
#                   go.mod).
#   prometheus-operator/ ServiceMonitor, PodMonitor, PrometheusRule.
#                   Generated with controller-gen (version below) from the
#                   Go API module pinned in go.mod
#                   (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring),
#                   the types the generator builds its monitoring objects
#                   from. The main module, whose example/prometheus-operator-crd/
#                   holds the shipped CRDs, is not on the module proxy (403 for
#                   v0.95.1), so there is nothing to compare with here. Checked
#                   once by hand against the shipped files of v0.93.0: the
#                   PrometheusRule CRD is identical, ServiceMonitor and
#                   PodMonitor differ only in descriptions and in the
#                   extraScrapeMetrics field added after v0.93.
#   gateway-api/    the standard-channel Gateway API CRDs and Envoy Gateway's
#                   ClientTrafficPolicy, as the gateway-crds-helm chart of
#                   github.com/envoyproxy/gateway (version from go.mod)
#                   installs them (charts/gateway-crds-helm/templates/).
#   openshift/      Route (route.openshift.io/v1) from github.com/openshift/api
#                   (version from go.mod), its Default feature set.
#   cert-manager/   ClusterIssuer, Issuer, Certificate: deploy/crds/ of
#                   github.com/cert-manager/cert-manager (not a dependency of
#                   this module: pinned below). These are plain CRDs, not
#                   Helm templates; their spec equals that of the chart's
#                   templates/crd-*.yaml (checked for v1.21.2).
#
# Every file gets a first-line comment naming its source module@version.
# Tools are built into the git-ignored .cache/bin. Idempotent: a second run
# rewrites the same bytes. Needs the Go module proxy; never edits go.mod.
set -euo pipefail

CONTROLLER_GEN_VERSION=v0.19.0
CERT_MANAGER_VERSION=v1.21.2

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export GOTOOLCHAIN=local GOWORK=off
BIN="$ROOT/.cache/bin"
OUT="$ROOT/generator/crds"
REGEN="Regenerate with: bash scripts/crds.sh"

tmp="$(mktemp -d)"
cleanup() { chmod -R u+w "$tmp" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir -p "$tmp/empty" "$tmp/out/flux" "$tmp/out/sealed-secrets" "$tmp/out/cert-manager" "$tmp/out/prometheus-operator"

log() { printf 'crds.sh: %s\n' "$*" >&2; }

# version MODULE: the version go.mod pins.
version() { GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' "$1"; }

# jsonfield NAME: the string field NAME of `go mod download -json` on stdin.
jsonfield() { sed -n 's/^[[:space:]]*"'"$1"'": "\(.*\)",\{0,1\}$/\1/p'; }

# moddir MODULE: the read-only module cache directory of a module in go.mod,
# at the version go.mod pins, downloading it if needed (verified by go.sum,
# which this does not change).
moddir() {
	local dir
	dir="$(GOFLAGS=-mod=readonly go mod download -json "$1" | jsonfield Dir)" || true
	[ -n "$dir" ] && [ -d "$dir" ] || { log "cannot download $1"; exit 1; }
	printf '%s\n' "$dir"
}

# Modules this script needs that are not in go.mod have no go.sum entry, so
# the go command checks them against the checksum database. Some sandboxes
# cannot reach it; the hashes below (go.sum format, recorded from
# proxy.golang.org) let the script verify them itself instead.
declare -A SUMS=(
	[github.com/cert-manager/cert-manager@v1.21.2]=h1:UWgoYM+KLNtRlqmoWOKjKBOBUPVHeepQ6/ac3ERJW68=
	[github.com/fluxcd/kustomize-controller@v1.9.6]=h1:XB+G3A0mky0j5uVHZWv4oSlS2RvZBoNIUhstIvY0JKE=
	[github.com/fluxcd/source-controller@v1.9.6]=h1:nG534/bI6nVpyHra7ONAk6xDB3xPsVT+EOLHZHXPrrc=
)

# extdir MODULE@VERSION: like moddir for a module outside go.mod (run in an
# empty directory so go.mod/go.sum stay untouched). Returns 1, printing
# nothing, if the proxy does not have it; 2 on a checksum mismatch.
extdir() {
	local json="" dir sum pin="${SUMS[$1]:-}"
	json="$(cd "$tmp/empty" && GOFLAGS= go mod download -json "$1" 2>/dev/null)" ||
		{ [ -n "$pin" ] && json="$(cd "$tmp/empty" && GOFLAGS= GONOSUMDB="${1%@*}" go mod download -json "$1" 2>/dev/null)"; } ||
		return 1
	dir="$(printf '%s\n' "$json" | jsonfield Dir)"
	sum="$(printf '%s\n' "$json" | jsonfield Sum)"
	[ -n "$dir" ] && [ -d "$dir" ] || return 1
	if [ -n "$pin" ] && [ "$sum" != "$pin" ]; then
		log "checksum mismatch for $1: got $sum, want $pin"
		return 2
	fi
	printf '%s\n' "$dir"
}

# emit SRC DEST SOURCE-DESCRIPTION: DEST = one comment line + SRC verbatim.
emit() {
	grep -q '^kind: CustomResourceDefinition$' "$1" || { log "$1 is not a CRD"; exit 1; }
	if grep -q '{{' "$1"; then log "$1 looks like a template"; exit 1; fi
	{ printf '# Source: %s. %s\n' "$3" "$REGEN"; cat "$1"; } >"$2"
}

# --- controller-gen ---------------------------------------------------------
if [ "$("$BIN/controller-gen" --version 2>/dev/null || true)" != "Version: $CONTROLLER_GEN_VERSION" ]; then
	log "building controller-gen $CONTROLLER_GEN_VERSION into .cache/bin"
	mkdir -p "$BIN"
	(cd "$tmp/empty" && GOFLAGS= GOBIN="$BIN" go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION")
fi

# --- Flux -------------------------------------------------------------------
# flux CONTROLLER CRD-FILE...: generate the CRDs of github.com/fluxcd/CONTROLLER/api
# at its go.mod version, compare with the main module's shipped copies,
# write the chosen CRD-FILEs.
flux() {
	local ctrl=$1; shift
	local api="github.com/fluxcd/$ctrl/api" ver src gen shipped f from
	ver="$(version "$api")"
	src="$(moddir "$api")"
	# The module cache is read-only and controller-gen loads packages with
	# `go list`: run it on a writable copy, which is a module of its own
	# (its go.mod and go.sum are complete, so -mod=readonly suffices).
	cp -R "$src" "$tmp/$ctrl-api"
	chmod -R u+w "$tmp/$ctrl-api"
	gen="$tmp/gen-$ctrl"
	(cd "$tmp/$ctrl-api" && GOFLAGS=-mod=readonly "$BIN/controller-gen" crd paths=./... "output:crd:artifacts:config=$gen")
	shipped="$(extdir "github.com/fluxcd/$ctrl@$ver")" || { [ $? -eq 1 ] || exit 1; shipped=""; }
	[ -n "$shipped" ] || log "github.com/fluxcd/$ctrl@$ver is not on the module proxy: using controller-gen output unchecked"
	for f in "$@"; do
		[ -f "$gen/$f" ] || { log "controller-gen did not produce $f for $api@$ver"; exit 1; }
		from="$api@$ver, generated by controller-gen $CONTROLLER_GEN_VERSION"
		if [ -z "$shipped" ]; then
			from="$from (github.com/fluxcd/$ctrl@$ver is not on the module proxy to compare with)"
		elif [ ! -f "$shipped/config/crd/bases/$f" ]; then
			log "github.com/fluxcd/$ctrl@$ver ships no config/crd/bases/$f: using controller-gen output"
		elif diff -q \
			<(grep -v 'controller-gen.kubebuilder.io/version:' "$gen/$f") \
			<(grep -v 'controller-gen.kubebuilder.io/version:' "$shipped/config/crd/bases/$f") >/dev/null; then
			from="$from (identical to config/crd/bases/$f of github.com/fluxcd/$ctrl@$ver)"
		else
			log "WARNING: controller-gen output for $f differs from github.com/fluxcd/$ctrl@$ver: using the shipped file"
			diff -u "$shipped/config/crd/bases/$f" "$gen/$f" | head -40 >&2 || true
			cp "$shipped/config/crd/bases/$f" "$gen/$f"
			from="github.com/fluxcd/$ctrl@$ver config/crd/bases/$f (shipped; controller-gen $CONTROLLER_GEN_VERSION output differed)"
		fi
		emit "$gen/$f" "$tmp/out/flux/$f" "$from"
	done
}

flux kustomize-controller kustomize.toolkit.fluxcd.io_kustomizations.yaml
flux source-controller \
	source.toolkit.fluxcd.io_gitrepositories.yaml \
	source.toolkit.fluxcd.io_ocirepositories.yaml \
	source.toolkit.fluxcd.io_helmrepositories.yaml \
	source.toolkit.fluxcd.io_helmcharts.yaml \
	source.toolkit.fluxcd.io_buckets.yaml \
	source.toolkit.fluxcd.io_externalartifacts.yaml
flux helm-controller helm.toolkit.fluxcd.io_helmreleases.yaml

# --- sealed-secrets -----------------------------------------------------------
ss=github.com/bitnami-labs/sealed-secrets
ssver="$(version "$ss")"
ssdir="$(moddir "$ss")"
emit "$ssdir/helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml" \
	"$tmp/out/sealed-secrets/bitnami.com_sealedsecrets.yaml" \
	"$ss@$ssver helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"

# --- prometheus-operator ------------------------------------------------------
po=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
pover="$(version "$po")"
cp -R "$(moddir "$po")" "$tmp/monitoring-api"
chmod -R u+w "$tmp/monitoring-api"
(cd "$tmp/monitoring-api" && GOFLAGS=-mod=mod "$BIN/controller-gen" crd:crdVersions=v1 paths=./v1/... "output:crd:artifacts:config=$tmp/gen-monitoring")
for f in monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_podmonitors.yaml monitoring.coreos.com_prometheusrules.yaml; do
	[ -f "$tmp/gen-monitoring/$f" ] || { log "controller-gen did not produce $f for $po@$pover"; exit 1; }
	emit "$tmp/gen-monitoring/$f" "$tmp/out/prometheus-operator/$f" "$po@$pover, generated by controller-gen $CONTROLLER_GEN_VERSION"
done

# --- cert-manager -------------------------------------------------------------
cm=github.com/cert-manager/cert-manager
cmdir="$(extdir "$cm@$CERT_MANAGER_VERSION")" || { log "cannot download $cm@$CERT_MANAGER_VERSION"; exit 1; }
for f in cert-manager.io_clusterissuers.yaml cert-manager.io_issuers.yaml cert-manager.io_certificates.yaml; do
	emit "$cmdir/deploy/crds/$f" "$tmp/out/cert-manager/$f" "$cm@$CERT_MANAGER_VERSION deploy/crds/$f"
done

# --- Envoy Gateway and Gateway API -----------------------------------------------
# What the gateway-crds-helm chart of Envoy Gateway (the version go.mod pins)
# installs with crds.gatewayAPI.channel=standard and crds.envoyGateway.enabled
# (flux.Infrastructure): every CRD of its standard-channel Gateway API bundle,
# and the Envoy Gateway policy kinds the generator emits. The chart's files
# are templates only in their first and last lines (the if/end around each).
eg=github.com/envoyproxy/gateway
egver="$(version "$eg")"
egdir="$(moddir "$eg")/charts/gateway-crds-helm/templates"
mkdir -p "$tmp/out/gateway-api" "$tmp/eg"
# untemplate FILE OUT: FILE without its template lines, one CRD per file in
# OUT, named <group>_<plural>.yaml as upstream names them.
untemplate() {
	grep -v '^{{' "$1" | awk -v out="$2" '
		/^---$/ { n++; next }
		{ doc[n] = doc[n] $0 "\n" }
		END { for (i in doc) { f = out "/doc-" i ".yaml"; printf "%s", doc[i] > f; close(f) } }'
	local d name
	for d in "$2"/doc-*.yaml; do
		if grep -q '^kind: CustomResourceDefinition$' "$d"; then
			name="$(sed -n 's/^  name: \([a-z0-9.-]*\)$/\1/p' "$d" | head -1)"
			mv "$d" "$2/${name#*.}_${name%%.*}.yaml"
		else
			rm "$d"
		fi
	done
}
untemplate "$egdir/standard-gatewayapi-crds.yaml" "$tmp/eg"
for f in "$tmp/eg"/gateway.networking.k8s.io_*.yaml; do
	grep -q 'gateway.networking.k8s.io/channel: standard' "$f" || { log "$f is not of the standard channel"; exit 1; }
	emit "$f" "$tmp/out/gateway-api/$(basename "$f")" "$eg@$egver charts/gateway-crds-helm/templates/standard-gatewayapi-crds.yaml (Gateway API $(sed -n 's/^ *gateway.networking.k8s.io\/bundle-version: //p' "$f" | head -1), standard channel)"
done
for f in gateway.envoyproxy.io_clienttrafficpolicies.yaml; do
	grep -v '^{{' "$egdir/generated/$f" >"$tmp/eg/$f"
	emit "$tmp/eg/$f" "$tmp/out/gateway-api/$f" "$eg@$egver charts/gateway-crds-helm/templates/generated/$f"
done

# --- openshift ------------------------------------------------------------------
# The Route schema OpenShift validates with: route.openshift.io/v1 as
# github.com/openshift/api (version from go.mod) generates it for the
# Default feature set (spec.tls.externalCertificate included).
os=github.com/openshift/api
osver="$(version "$os")"
mkdir -p "$tmp/out/openshift"
emit "$(moddir "$os")/route/v1/zz_generated.crd-manifests/routes.crd.yaml" "$tmp/out/openshift/route.openshift.io_routes.yaml" "$os@$osver route/v1/zz_generated.crd-manifests/routes.crd.yaml"

# --- install ------------------------------------------------------------------
for d in flux sealed-secrets cert-manager prometheus-operator gateway-api openshift; do
	mkdir -p "$OUT/$d"
	rm -f "$OUT/$d"/*.yaml
	cp "$tmp/out/$d"/*.yaml "$OUT/$d/"
done
log "wrote $(cd "$tmp/out" && ls -- */*.yaml | wc -l | tr -d ' ') CRDs under generator/crds/"
