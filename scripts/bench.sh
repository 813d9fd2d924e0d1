#!/usr/bin/env bash
# make bench: time the generator against `kubectl kustomize` of the same
# overlays, in one run, and print the ratios generator/kustomize.
# The generator must be faster than kustomize alone: exit 1 if a gated
# ratio is >= 1.00, exit 2 if kubectl is missing or the setup is wrong.
#
# The baseline, and three ways to time the generator against it:
#
#   kustomize    `kubectl kustomize overlays/<env>` of the committed tree,
#                one process per environment, output to /dev/null. It
#                includes kubectl's process start-up and kustomize's one-time
#                set-up (parsing its built-in OpenAPI schema) in every
#                process: that is the real cost to whoever runs it. It does
#                NOT include producing the overlays.
#
#   one-process  GATED. What the issue asks for: `generate` for all
#                environments including the in-process build of each, as
#                one fresh process per run: the compiled generator test
#                binary running BenchmarkGenerateAndBuild once
#                (-test.benchtime=1x): config.Load + Generate + BuildYAML of
#                every overlay. Wall time of the whole process, so process
#                start-up and kustomize's one-time set-up are paid every run,
#                exactly as on the kubectl side. No files are written.
#
#   in-process   GATED. BenchmarkGenerateAndBuild run $BENCH_RUNS times in
#                one process, ns/op as `go test -bench` reports it: start-up
#                and one-time set-up are amortised over the runs, so this is
#                the steady-state cost. BenchmarkGenerate and BenchmarkBuild
#                split it to show what dominates.
#
#   cli          NOT GATED, shown for information. Today's CLI as an operator
#                would chain it: `platformctl generate -q -C <tmp>` into an
#                empty copy of the repository (every file written, the worst
#                case) plus `platformctl build <env> -f <tmp>/platform.yaml`
#                per environment. Each build process loads platform.yaml and
#                generates the whole tree again before building, so this
#                does strictly more than the kustomize side: 1+N process
#                start-ups, 1+N generations, N kustomize set-ups, N builds,
#                file writes. `generate` itself does not build.
#
# Every side writes its output to /dev/null; the CLI build and kubectl are
# checked once, untimed, to produce the same bytes. Each side runs once
# untimed to warm caches, and the sides are interleaved run by run so noise
# on the machine hits them alike. BENCH_RUNS (default 10) is the number of
# runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:--mod=readonly}"
GO="${GO:-go}"

runs="${BENCH_RUNS:-10}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
	echo "bench: BENCH_RUNS must be a positive integer, got '$runs'" >&2
	exit 2
fi

if ! command -v kubectl >/dev/null 2>&1 || ! kubectl version --client >/dev/null 2>&1; then
	echo "bench: kubectl not found (or not working): it is the baseline this compares against." >&2
	echo "bench: install kubectl (https://kubernetes.io/docs/tasks/tools/) and rerun." >&2
	exit 2
fi

# The environments are the committed overlays.
envs=()
for d in overlays/*/; do
	[[ -f "$d/kustomization.yaml" ]] && envs+=("$(basename "$d")")
done
if ((${#envs[@]} == 0)); then
	echo "bench: no overlays/<env>/kustomization.yaml found; run make generate" >&2
	exit 2
fi

now() { date +%s%N; }

"$GO" build -o bin/platformctl ./cmd/platformctl

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
work="$tmp/repo"
mkdir -p "$work"
cp platform.yaml "$work/"
cp -R secrets "$work/"   # an input of generate (sealed values)
# The generator benchmarks, compiled once; run from generator/ because they
# read ../platform.yaml.
"$GO" test -c -o "$tmp/generator.test" ./generator

cli_run() {
	rm -rf "$work/base" "$work/overlays"
	local t0 t1
	t0=$(now)
	bin/platformctl generate -q -f "$work/platform.yaml" -C "$work" >/dev/null
	for e in "${envs[@]}"; do
		bin/platformctl build "$e" -f "$work/platform.yaml" -C "$work" >/dev/null
	done
	t1=$(now)
	echo $((t1 - t0))
}

one_process_run() (
	cd generator # a subshell function: the caller stays at the root
	local t0 t1
	t0=$(now)
	"$tmp/generator.test" -test.run '^$' -test.bench '^BenchmarkGenerateAndBuild$' \
		-test.benchtime=1x -test.count=1 >/dev/null
	t1=$(now)
	echo $((t1 - t0))
)

kustomize_run() {
	local t0 t1
	t0=$(now)
	for e in "${envs[@]}"; do
		kubectl kustomize "overlays/$e" >/dev/null
	done
	t1=$(now)
	echo $((t1 - t0))
}

# Same work on both sides: the builds must agree byte for byte.
for e in "${envs[@]}"; do
	if ! cmp -s <(bin/platformctl build "$e" -f "$work/platform.yaml" -C "$work") <(kubectl kustomize "overlays/$e"); then
		echo "bench: platformctl build $e differs from kubectl kustomize overlays/$e; run make generate" >&2
		exit 1
	fi
done

# Warm-up, untimed.
cli_run >/dev/null
one_process_run >/dev/null
kustomize_run >/dev/null

cli_total=0
one_total=0
kus_total=0
for ((i = 0; i < runs; i++)); do
	kus_total=$((kus_total + $(kustomize_run)))
	one_total=$((one_total + $(one_process_run)))
	cli_total=$((cli_total + $(cli_run)))
done

# In-process: one process, every benchmark run exactly $runs times.
bench_out="$(cd generator && "$tmp/generator.test" -test.run '^$' \
	-test.bench '^Benchmark(GenerateAndBuild|Generate|Build)$' \
	-test.benchtime="${runs}x" -test.count=1)"
ns_of() {
	awk -v name="$1" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "ns/op") { print $i; exit } }' <<<"$bench_out"
}
inproc_ns="$(ns_of BenchmarkGenerateAndBuild)"
gen_only_ns="$(ns_of BenchmarkGenerate)"
build_only_ns="$(ns_of BenchmarkBuild)"
if [[ -z "$inproc_ns" || -z "$gen_only_ns" || -z "$build_only_ns" ]]; then
	echo "bench: could not parse the benchmark output:" >&2
	echo "$bench_out" >&2
	exit 1
fi

# Ratios are judged on their 2-decimal rendering, so what is printed is
# what is judged (0.996 prints 1.00 and fails).
awk -v runs="$runs" -v envs="${envs[*]}" -v n="${#envs[@]}" \
	-v kus="$kus_total" -v one="$one_total" -v cli="$cli_total" \
	-v inproc="$inproc_ns" -v gonly="$gen_only_ns" -v bonly="$build_only_ns" '
function ms(ns) { return ns / 1e6 }
function r2(x) { return sprintf("%.2f", x) + 0 }
BEGIN {
	kus_ms = ms(kus / runs); one_ms = ms(one / runs); cli_ms = ms(cli / runs)
	in_ms = ms(inproc); g_ms = ms(gonly); b_ms = ms(bonly)
	r_one = r2(one_ms / kus_ms); r_in = r2(in_ms / kus_ms); r_cli = r2(cli_ms / kus_ms)
	printf "environments: %s; %d runs; per-run means\n", envs, runs
	printf "kustomize    kubectl kustomize, %d processes              %8.1f ms\n", n, kus_ms
	printf "one-process  Load+Generate+Build of %d envs, 1 process    %8.1f ms\n", n, one_ms
	printf "in-process   Load+Generate+Build of %d envs, steady state %8.1f ms\n", n, in_ms
	printf "               of which Load+Generate                    %8.1f ms\n", g_ms
	printf "               of which Build of %d envs                  %8.1f ms\n", n, b_ms
	printf "cli          platformctl generate + %d x build, %d procs  %8.1f ms\n", n, n + 1, cli_ms
	printf "ratio generator/kustomize: %.2f (one-process), %.2f (in-process)\n", r_one, r_in
	printf "ratio cli/kustomize: %.2f (not gated: each build process regenerates)\n", r_cli
	if (r_one >= 1.0 || r_in >= 1.0) { print "FAIL: the generator is not faster than kustomize alone"; exit 1 }
	print "ok: the generator is faster than kustomize alone"
}'
