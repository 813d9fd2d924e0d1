#!/usr/bin/env bash
# The repository is the operator's (issue 19): copy it, make the ordinary
# changes an operator makes with the CLI, and run `make test` and
# `make update` on the copy; both must pass.
#
# The changes: add a `staging` environment (its own sealing certificate made
# offline with openssl, values sealed with `secrets init`), put prod into
# test's cluster, rotate a key, switch pgAdmin off in dev and prune its
# sealed keys, grow a volume. Then `make generate`, `make update`,
# `make test`, and `platformctl check` on every environment.
#
# Usage: bash scripts/operator-changes.sh [workdir]
# (default: a temporary directory, removed at the end; a workdir is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
src=$PWD
if [ $# -gt 0 ]; then work=$1; else work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; fi
copy=$work/repo
rm -rf "$copy"
mkdir -p "$copy"
# The repository as a clone has it (tracked and new files, nothing ignored).
git ls-files -z --cached --others --exclude-standard | tar -C "$src" --null -T - -cf - | tar -C "$copy" -xf -
cd "$copy"
git init -q && git add -A && git -c user.name=ci -c user.email=ci@example.org commit -qm "as cloned"
go build -o bin/platformctl ./cmd/platformctl
pc=$copy/bin/platformctl
step() { printf '\n== %s\n' "$*"; }

step "add a staging environment"
python3 - <<'EOF'
import re
p = open("platform.yaml").read()
staging = """
  - name: staging
    namespace: invenio-staging
    host: invenio-staging.lbl.gov
    search:
      indexPrefix: lbnl-staging
    backup:
      target:
        volume: {storageClass: cephfs, size: 50Gi}
"""
marker = "\n# Where Flux pulls this repository from"
assert marker in p, "platform.yaml: the marker after environments: moved"
p = p.replace(marker, staging + marker, 1)
open("platform.yaml", "w").write(p)
EOF
mkdir -p secrets/staging
openssl req -x509 -nodes -newkey rsa:2048 -days 365 -subj "/CN=sealed-secret/O=sealed-secret" \
  -keyout "$work/staging-sealing.key" -out secrets/staging/sealing-cert.pem 2>/dev/null
"$pc" secrets init staging

step "put prod into test's cluster"
python3 - <<'EOF'
p = open("platform.yaml").read()
old = "  - name: prod\n    namespace: invenio-prod\n"
assert old in p
p = p.replace(old, old + "    cluster: test\n", 1)
open("platform.yaml", "w").write(p)
EOF
cp secrets/test/sealing-cert.pem secrets/prod/sealing-cert.pem

step "rotate a key"
"$pc" secrets rotate dev invenio-app/secret-key

step "switch pgAdmin off in dev, grow its files volume"
python3 - <<'EOF'
p = open("platform.yaml").read()
old = "      pgadmin:\n        enabled: true\n"
assert old in p
p = p.replace(old, "      pgadmin:\n        enabled: false\n", 1)
old = "      files: 20Gi\n"
assert old in p
p = p.replace(old, "      files: 40Gi\n", 1)
open("platform.yaml", "w").write(p)
EOF
"$pc" secrets prune dev

step "generate, check the secrets, review"
make generate
"$pc" secrets check || { echo "secrets check failed"; exit 1; }
"$pc" diff --base HEAD --env staging | head -3
"$pc" check

step "make update on the changed copy"
make update
step "make test on the changed copy"
make test
echo
echo "operator changes: make update and make test pass on the changed copy ($copy)"
