#!/usr/bin/env bash
# Installs, with pinned versions, the real programs the run-time tests run
# the generated pods on (docs/runtime.md): what each image of the platform
# holds, installed on this Debian machine instead of pulled.
#
#   invenio     InvenioRDM 12.1.0 in a virtualenv (hash-locked
#               scripts/runtime-tools/invenio/requirements.txt: uWSGI,
#               uwsgi-tools, Celery, invenio-saml), and a minimal instance
#               (scripts/runtime-tools/invenio/invenio.cfg) with its static
#               files collected and its JavaScript built by webpack from the
#               npm lock scripts/runtime-tools/invenio/package-lock.json;
#               and the same of InvenioRDM 12.0.0, the first v12 release,
#               which the upgrade proof installs first (its pip and npm
#               locks in scripts/runtime-tools/invenio-12.0.0/)
#   pgadmin     pgAdmin 8.14 and gunicorn in a virtualenv (hash-locked
#               scripts/runtime-tools/pgadmin/requirements.txt)
#   opensearch  OpenSearch 2.17.1 from Maven Central (runtime-tools/opensearch.sh)
#   go          restic 0.18.0, postgres_exporter v0.17.1 and
#               nginx-prometheus-exporter 1.4.1 built from the Go module proxy
#               (wrapper modules in scripts/runtime-tools/go/<name>/)
#   debs        Debian's PostgreSQL 15, Redis 7.0, RabbitMQ 3.10, nginx 1.22,
#               redis_exporter 1.45, Erlang, Java 17, the en_US.UTF-8 locale
#
# Everything lands in <repo>/.cache/runtime (git-ignored), each part in a
# directory named after its version and a hash of what builds it, and is
# reused while that hash holds. Installing Debian packages needs root (the
# tests need it anyway).
#
# Usage: scripts/runtime-tools.sh [--print-env] [PART...]
#   PART         debs, invenio, pgadmin, opensearch, go; default all
#   --print-env  only print the paths (shell assignments) of what is built
#   --lock       regenerate invenio/, invenio-12.0.0/ and pgadmin/requirements.txt
#                (pip, as of INVENIO_LOCK_DATE, INVENIO_PREVIOUS_LOCK_DATE and
#                PGADMIN_LOCK_DATE) and exit
#                (an npm lock is made from the one before it: in a failed
#                build's instance/assets, with that lock copied in,
#                `npm install --package-lock-only --ignore-scripts
#                --legacy-peer-deps` keeps every version that still fits)
# Environment: RUNTIME_CACHE overrides <repo>/.cache/runtime.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/runtime-tools"
CACHE="${RUNTIME_CACHE:-$ROOT/.cache/runtime}"
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"

INVENIO_VERSION=12.1.0
# The newest v12 release (2025-04-29; no later v12 on PyPI), locked as of
# the day after its release: the lock resolves every dependency as pip did
# that day, as an image of 12.1.0 built then would have it.
INVENIO_LOCK_DATE=2025-04-30T00:00:00Z
# The release an upgrade starts from: the first v12 (2024-08-01), locked as
# of the day 12.0.1 came (2024-08-13), as an image of 12.0.0 built then.
INVENIO_PREVIOUS_VERSION=12.0.0
INVENIO_PREVIOUS_LOCK_DATE=2024-08-13T00:00:00Z
PGADMIN_VERSION=8.14
# pgAdmin 8.14's release day (2024-12-12): its image was built then.
PGADMIN_LOCK_DATE=2024-12-13T00:00:00Z

log() { printf 'runtime-tools: %s\n' "$*" >&2; }
die() { printf 'runtime-tools: error: %s\n' "$*" >&2; exit 1; }
hash_of() { cat "$@" | sha256sum | cut -c1-12; }

# invenio_src VERSION: the directory of its locks (requirements.txt, and
# package-lock.json where it differs from invenio/'s).
invenio_src() {
  if [ "$1" = "$INVENIO_VERSION" ]; then echo "$HERE/invenio"; else echo "$HERE/invenio-$1"; fi
}

# invenio_dir VERSION: where that release is built.
invenio_dir() {
  local src npm
  src=$(invenio_src "$1")
  npm=$src/package-lock.json
  [ -f "$npm" ] || npm=$HERE/invenio/package-lock.json
  echo "$CACHE/invenio-$1-$(hash_of "$src/requirements.txt" "$HERE/invenio/invenio.cfg" \
    "$npm" "$HERE/invenio/instance.sh" <(/usr/bin/python3 --version 2>&1))"
}

pgadmin_dir() {
  echo "$CACHE/pgadmin-$PGADMIN_VERSION-$(hash_of "$HERE/pgadmin/requirements.txt" "$HERE/pgadmin/run_pgadmin.py" \
    "$HERE/pgadmin/gunicorn_config.py" <(/usr/bin/python3 --version 2>&1))"
}

print_env() {
  local os
  os=$(bash "$HERE/opensearch.sh" --print-path "$CACHE" 2>/dev/null || true)
  printf 'RUNTIME_CACHE=%q\nRUNTIME_INVENIO=%q\nRUNTIME_INVENIO_PREVIOUS=%q\nRUNTIME_OPENSEARCH_HOME=%q\nRUNTIME_BIN=%q\nRUNTIME_PGADMIN=%q\n' \
    "$CACHE" "$(invenio_dir "$INVENIO_VERSION")" "$(invenio_dir "$INVENIO_PREVIOUS_VERSION")" "$os" "$CACHE/bin" "$(pgadmin_dir)"
}

# --- debs ---------------------------------------------------------------------
debs() {
  local need=() p
  for p in postgresql redis-server rabbitmq-server nginx-light prometheus-redis-exporter erlang-base \
    openjdk-17-jdk-headless maven python3-venv python3-dev build-essential libpcre3-dev libxml2-dev libxslt1-dev \
    libcairo2 libxmlsec1-dev libxmlsec1-openssl pkg-config locales iproute2 util-linux curl ca-certificates; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || need+=("$p")
  done
  # Node.js and npm come with the machine (not Debian's: its npm conflicts).
  command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
  if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "installing ${need[*]} needs root"
    log "installing Debian packages: ${need[*]}"
    # The servers are started by the tests, never as system services.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
  # The postgres image's LANG; Debian ships only C.UTF-8 generated.
  if ! locale -a 2>/dev/null | grep -qi '^en_US\.utf8$'; then
    log "generating the en_US.UTF-8 locale"
    sed -i 's/^# *en_US.UTF-8 UTF-8/en_US.UTF-8 UTF-8/' /etc/locale.gen
    grep -q '^en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
    locale-gen >/dev/null
  fi
}

# --- invenio ------------------------------------------------------------------
# lock NAME DATE [PIP-OPTIONS...]: resolves scripts/runtime-tools/NAME/requirements.in
# as pip did on DATE into NAME/requirements.txt, with hashes.
lock() {
  local name=$1 date=$2 tmp; shift 2
  tmp=$(mktemp -d)
  /usr/bin/python3 -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q --upgrade "pip==26.3"
  log "resolving $HERE/$name/requirements.in as of $date"
  "$tmp/venv/bin/pip" install -q --dry-run --ignore-installed --uploaded-prior-to "$date" "$@" \
    -r "$HERE/$name/requirements.in" --report "$tmp/report.json"
  /usr/bin/python3 - "$tmp/report.json" "$date" >"$HERE/$name/requirements.txt" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
print("# Generated by scripts/runtime-tools.sh --lock from requirements.in, resolved")
print("# by pip as of %s; installed with --require-hashes --no-deps." % sys.argv[2])
rows = []
for it in report["install"]:
    md, di = it["metadata"], it["download_info"]
    h = di["archive_info"]["hashes"]["sha256"]
    rows.append((md["name"].lower(), "%s==%s \\\n    --hash=sha256:%s" % (md["name"], md["version"], h)))
for _, line in sorted(rows):
    print(line)
EOF
  rm -rf "$tmp"
  log "wrote $HERE/$name/requirements.txt"
}

# invenio VERSION: builds that release (once; reused while its locks hold).
invenio() {
  local version=$1 dir t0
  dir=$(invenio_dir "$version")
  if [ -f "$dir/.done" ]; then
    log "reusing $dir"
    return
  fi
  t0=$(date +%s)
  # Built in place: a virtualenv's scripts name its path. .done marks a
  # finished build; an unfinished one is started again.
  rm -rf "$dir" && mkdir -p "$dir"
  log "building InvenioRDM $version into $dir (log: $dir/build.log)"
  if ! bash "$HERE/invenio/instance.sh" "$(invenio_src "$version")" "$dir" >"$dir/build.log" 2>&1; then
    tail -40 "$dir/build.log" >&2
    die "building InvenioRDM $version failed (log: $dir/build.log)"
  fi
  touch "$dir/.done"
  log "built InvenioRDM $version in $(( $(date +%s) - t0 )) s"
}

# --- pgadmin --------------------------------------------------------------------
# The dpage/pgadmin4 image's /venv and /pgadmin4: pgAdmin from PyPI (the
# wheel's pgadmin4 package is the image's /pgadmin4) with the image's two
# files of its own, written here (scripts/runtime-tools/pgadmin/).
pgadmin() {
  local dir site t0
  dir=$(pgadmin_dir)
  if [ -f "$dir/.done" ]; then
    log "reusing $dir"
    return
  fi
  t0=$(date +%s)
  rm -rf "$dir" && mkdir -p "$dir"
  log "building pgAdmin $PGADMIN_VERSION into $dir"
  if ! {
    /usr/bin/python3 -m venv "$dir/venv" &&
      "$dir/venv/bin/pip" install --quiet --no-deps --require-hashes -r "$HERE/pgadmin/requirements.txt" &&
      "$dir/venv/bin/pip" check
  } >"$dir/build.log" 2>&1; then
    tail -40 "$dir/build.log" >&2
    die "building pgAdmin failed (log: $dir/build.log)"
  fi
  site=$(echo "$dir"/venv/lib/python3*/site-packages/pgadmin4)
  [ -f "$site/pgAdmin4.py" ] || die "pgAdmin's wheel has no pgadmin4/pgAdmin4.py"
  cp "$HERE/pgadmin/run_pgadmin.py" "$HERE/pgadmin/gunicorn_config.py" "$site/"
  ln -sfn "$site" "$dir/pgadmin4"
  chmod -R a+rX "$dir"
  touch "$dir/.done"
  log "built pgAdmin in $(( $(date +%s) - t0 )) s"
}

# --- opensearch ---------------------------------------------------------------
opensearch() { bash "$HERE/opensearch.sh" "$CACHE" >&2; }

# --- go -------------------------------------------------------------------------
go_tools() {
  local bin="$CACHE/bin" spec name pkg dir stamp t0
  mkdir -p "$bin"
  export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
  for spec in restic=github.com/restic/restic/cmd/restic \
    postgres_exporter=github.com/prometheus-community/postgres_exporter/cmd/postgres_exporter \
    nginx-prometheus-exporter=github.com/nginx/nginx-prometheus-exporter; do
    name=${spec%%=*} pkg=${spec#*=}
    case $name in restic) dir=restic ;; postgres_exporter) dir=postgres-exporter ;; *) dir=nginx-exporter ;; esac
    stamp=$(hash_of "$HERE/go/$dir/go.mod" "$HERE/go/$dir/go.sum" <(go env GOVERSION))
    if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$stamp" ]; then
      log "reusing $bin/$name"
      continue
    fi
    t0=$(date +%s)
    ( cd "$HERE/go/$dir" && go build -trimpath -ldflags "-s -w" -o "$bin/$name.tmp" "$pkg" ) || die "building $name failed"
    mv -f "$bin/$name.tmp" "$bin/$name"
    echo "$stamp" >"$bin/.$name.stamp"
    log "built $name in $(( $(date +%s) - t0 )) s"
  done
}

parts=()
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env; exit 0 ;;
    --lock)
      lock invenio "$INVENIO_LOCK_DATE" --no-binary lxml,xmlsec
      lock "invenio-$INVENIO_PREVIOUS_VERSION" "$INVENIO_PREVIOUS_LOCK_DATE" --no-binary lxml,xmlsec
      lock pgadmin "$PGADMIN_LOCK_DATE"
      exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $arg" ;;
    *) parts+=("$arg") ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || parts=(debs invenio pgadmin opensearch go)
for p in "${parts[@]}"; do
  case "$p" in
    debs) debs ;;
    invenio) invenio "$INVENIO_VERSION" && invenio "$INVENIO_PREVIOUS_VERSION" ;;
    pgadmin) pgadmin ;;
    opensearch) opensearch ;;
    go) go_tools ;;
    *) die "unknown part $p" ;;
  esac
done
