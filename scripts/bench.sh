#!/usr/bin/env bash
# make bench: the four speed goals of docs/speed.md, each measured in one
# run as the best of BENCH_RUNS (default 5) against its baseline, printed,
# and judged; exit 1 when a goal is missed, 2 when the set-up is wrong.
#
#   generate   `platformctl generate` of a copy of this repository from an
#              empty generated tree (every check it runs; its result cache
#              empty) against `kubectl kustomize overlays/<env>` of each
#              environment, one process each. Goal: ratio <= 0.50.
#   100 envs   the same generate of a description of 100 copies of dev
#              (written by scripts/benchenvs, every key sealed with
#              `platformctl secrets init`; not committed). Goals: under
#              5 s, and a cost per environment no higher than with 3 such
#              copies.
#   diff       `platformctl diff --base HEAD` of a copy of this repository
#              whose working tree changes the first environment's host
#              (its Ingress, certificate and application config), against
#              `kubectl kustomize` of every overlay of both revisions.
#              Goal: ratio <= 1.00.
#   re-run     `platformctl generate` again on an unchanged description
#              (its result cache as the previous run left it). Goal: under
#              0.2 s.
#
# The baseline is `kubectl kustomize` when kubectl is on PATH, else
# kustomize v5.8.2 built into .cache/bench (the binary kubectl embeds).
# All output goes to /dev/null; runs of the two sides are interleaved so
# that noise on the machine hits them alike.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:--mod=readonly}"
GO="${GO:-go}"

runs="${BENCH_RUNS:-5}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: BENCH_RUNS must be a positive integer, got '$runs'" >&2
	exit 2
fi

if command -v kubectl >/dev/null 2>&1 && kubectl version --client >/dev/null 2>&1; then
	kustomize=(kubectl kustomize)
	baseline="kubectl kustomize ($(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p'))"
else
	kbin="$root/.cache/bench/kustomize-v5.8.2"
	if [[ ! -x "$kbin" ]]; then
		mkdir -p "$root/.cache/bench"
		GOBIN="$root/.cache/bench/gobin" "$GO" install -mod=mod sigs.k8s.io/kustomize/kustomize/v5@v5.8.2
		mv "$root/.cache/bench/gobin/kustomize" "$kbin"
	fi
	kustomize=("$kbin" build)
	baseline="kustomize v5.8.2 build"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$GO" build -o "$tmp/platformctl" ./cmd/platformctl
pctl="$tmp/platformctl"
export PLATFORMCTL_CACHE=off

now() { date +%s%N; }
# best <var> <command…>: the fastest of the runs so far, in ns.
declare -A best
time_it() {
	local name=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>&1 || { echo "bench: $name failed: $*" >&2; "$@" >&2 || true; exit 2; }
	t1=$(now)
	local d=$((t1 - t0))
	if [[ -z "${best[$name]:-}" ]] || ((d < best[$name])); then best[$name]=$d; fi
}

envs_of() { # the environments of the repository at $1: its overlays
	local d
	for d in "$1"/overlays/*/; do
		[[ -f "$d/kustomization.yaml" ]] && basename "$d"
	done
}

copy_repo() { # copy_repo <dest>: the description, secrets and generated tree
	mkdir -p "$1"
	cp -R platform.yaml secrets base overlays clusters "$1/"
}

# --- generate: this repository -------------------------------------------
repo="$tmp/repo"
copy_repo "$repo"
mapfile -t envs < <(envs_of "$repo")
for e in "${envs[@]}"; do # same work on both sides
	if ! cmp -s <("$pctl" build "$e" -C "$repo") <("${kustomize[@]}" "$repo/overlays/$e"); then
		echo "bench: platformctl build $e differs from ${kustomize[*]} overlays/$e; run make generate" >&2
		exit 1
	fi
done
gen_empty() {
	rm -rf "$1/base" "$1/overlays" "$1/clusters"
	"$pctl" generate -q -C "$1"
}
kus_all() {
	local e
	for e in "${@:2}"; do "${kustomize[@]}" "$1/overlays/$e"; done
}

# --- 100 environments, and 3 of the same kind --------------------------------
for n in 3 100; do
	for e in $("$GO" run ./scripts/benchenvs -from . -to "$tmp/envs$n" -n "$n"); do
		"$pctl" secrets init "$e" -C "$tmp/envs$n" >/dev/null
	done
done

# --- diff: a working tree that changes the first environment's host ----------
drepo="$tmp/diff"
copy_repo "$drepo"
git -C "$drepo" init -q
git -C "$drepo" add -A
git -C "$drepo" -c user.name=bench -c user.email=bench@example.org commit -qm base
git -C "$drepo" worktree add -q "$tmp/diff-base" HEAD
first_env="${envs[0]}"
awk -v env="$first_env" '
	/^  - name: / { inenv = ($3 == env) }
	inenv && /^    host: / { sub(/host: /, "host: bench-") }
	{ print }
' platform.yaml >"$drepo/platform.yaml"
"$pctl" generate -q -C "$drepo"
if git -C "$drepo" diff --quiet; then
	echo "bench: changing the host of $first_env changed nothing" >&2
	exit 2
fi
diff_both() {
	kus_all "$drepo" "${envs[@]}"
	kus_all "$tmp/diff-base" "${envs[@]}"
}

# --- re-run: the cache as the previous generate left it -----------------------
rrepo="$tmp/rerun"
copy_repo "$rrepo"
rerun() { PLATFORMCTL_CACHE="$tmp/cache" "$pctl" generate -q -C "$rrepo"; }
rerun # fills the cache

# Warm-up, untimed, then the runs, interleaved.
gen_empty "$repo" >/dev/null
kus_all "$repo" "${envs[@]}" >/dev/null
for ((i = 0; i < runs; i++)); do
	time_it kus kus_all "$repo" "${envs[@]}"
	time_it gen gen_empty "$repo"
	time_it gen3 gen_empty "$tmp/envs3"
	time_it gen100 gen_empty "$tmp/envs100"
	time_it diffkus diff_both
	time_it diff "$pctl" diff --base HEAD -C "$drepo"
	time_it rerun rerun
done

awk -v runs="$runs" -v n="${#envs[@]}" -v baseline="$baseline" \
	-v kus="${best[kus]}" -v gen="${best[gen]}" -v gen3="${best[gen3]}" -v gen100="${best[gen100]}" \
	-v diffkus="${best[diffkus]}" -v diff="${best[diff]}" -v rerun="${best[rerun]}" '
function ms(ns) { return ns / 1e6 }
function r2(x) { return sprintf("%.2f", x) + 0 }
function judge(ok, what) { if (!ok) { failed = failed "\n  " what }; return ok ? "ok" : "MISSED" }
BEGIN {
	printf "best of %d runs; baseline: %s, one process per overlay\n\n", runs, baseline
	r = r2(ms(gen) / ms(kus))
	printf "generate, %d environments      %8.0f ms   baseline %8.0f ms   ratio %.2f (goal <= 0.50)  %s\n", n, ms(gen), ms(kus), r, judge(r <= 0.5, "generate at most 0.5x kustomize")
	printf "generate, 100 environments   %8.0f ms                         (goal < 5000 ms)     %s\n", ms(gen100), judge(ms(gen100) < 5000, "100 environments in under 5 s")
	per3 = ms(gen3) / 3; per100 = ms(gen100) / 100
	printf "  per environment: %.1f ms at 100, %.1f ms at 3                   (goal: not higher)   %s\n", per100, per3, judge(per100 <= per3, "per-environment cost at 100 no higher than at 3")
	r = r2(ms(diff) / ms(diffkus))
	printf "diff --base HEAD              %8.0f ms   baseline %8.0f ms   ratio %.2f (goal <= 1.00)  %s\n", ms(diff), ms(diffkus), r, judge(r <= 1.0, "diff at most 1x kustomize of both revisions")
	printf "generate again, unchanged     %8.0f ms                         (goal < 200 ms)      %s\n", ms(rerun), judge(ms(rerun) < 200, "re-run under 0.2 s")
	if (failed != "") { printf "\nFAIL: missed:%s\n", failed; exit 1 }
	print "\nok: every goal holds"
}'
