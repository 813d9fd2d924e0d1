#!/usr/bin/env bash
# Installs the Debian packages `make test` runs for real (a PostgreSQL server
# for the SQL tests, restic for the backup scripts; iproute2, nsenter/setpriv
# and Python for the kubelet's own tests), when they are missing. Idempotent and quiet when
# everything is there; needs root (or sudo) only when something is missing.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v restic >/dev/null 2>&1 || need+=(restic)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v setpriv >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/bin/python3 ] || need+=(python3)
# The shell completion scripts (platformctl completion bash|zsh) are run for real.
command -v zsh >/dev/null 2>&1 || need+=(zsh)
# The setup Job's install record (generator/invenio/scripts/setup_state.py) against PostgreSQL.
/usr/bin/python3 -c 'import sqlalchemy, psycopg2' 2>/dev/null || need+=(python3-sqlalchemy python3-psycopg2)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing test dependencies: ${need[*]}" >&2
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
$sudo apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The postgresql package starts a system cluster we do not use; tests start their own.
$sudo systemctl disable --now postgresql >/dev/null 2>&1 || $sudo service postgresql stop >/dev/null 2>&1 || true
