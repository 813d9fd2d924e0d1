#!/bin/sh
# restore-check-database.sh: restore the fetched dump into a throw-away
# PostgreSQL inside this pod and compare it with the manifest (postgres
# image). Nothing outside the pod is touched: the server lives in
# SCRATCH, listens on a Unix socket only, and is stopped at the end.
#
# Environment: DUMP_DIR     the restored dump directory (database.dump, manifest)
#   SCRATCH       an empty writable directory (data directory and socket)
#   SAMPLE_FILES  how many uploaded files to pick for the files check
#   SAMPLE_LIST   where to write "<uri> <md5>" lines for that check
#   RESULTS       the directory each step writes its PASS/FAIL lines to
set -u
: "${DUMP_DIR:?}" "${SCRATCH:?}" "${SAMPLE_FILES:?}" "${SAMPLE_LIST:?}" "${RESULTS:?}"
. "$(dirname "$0")/restore-lib.sh"
# The steps run as different users: the results directory is shared.
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
pass() { echo "PASS database: $*" >>"$RESULTS/database"; }
fail() { echo "FAIL database: $*" >>"$RESULTS/database"; stop; exit 0; }
stop() { [ -f "$SCRATCH/data/postmaster.pid" ] && pg_ctl -D "$SCRATCH/data" -m fast -w stop >/dev/null 2>&1; return 0; }
dump_check "$DUMP_DIR"
pass "dump of $(want created) matches its manifest ($size bytes, sha256 ok)"

mkdir -p "$SCRATCH/run"
# The throw-away server's own connection settings, not the live server's.
unset PGPASSWORD PGPORT PGHOST PGUSER PGDATABASE
initdb -D "$SCRATCH/data" --auth=trust -U restore-check -E UTF8 >"$SCRATCH/initdb.log" 2>&1 || fail "initdb: $(tail -n1 "$SCRATCH/initdb.log")"
pg_ctl -D "$SCRATCH/data" -l "$SCRATCH/server.log" -w -t 120 \
  -o "-k $SCRATCH/run -c listen_addresses='' -c fsync=off -c full_page_writes=off" start >/dev/null 2>&1 ||
  fail "throw-away server did not start: $(tail -n1 "$SCRATCH/server.log")"
export PGHOST="$SCRATCH/run" PGPORT=5432 PGUSER=restore-check PGDATABASE=restored
out=$(createdb --maintenance-db=postgres restored 2>&1) || fail "createdb: $out"
start=$(date +%s)
if ! pg_restore --no-owner --no-privileges --exit-on-error --dbname=restored "$dump" >"$SCRATCH/restore.log" 2>&1; then
  fail "pg_restore: $(tail -n1 "$SCRATCH/restore.log")"
fi
pass "pg_restore into a fresh database in $(($(date +%s) - start)) s"
rows() { psql -X -A -t -c "SELECT count(*) FROM public.\"$1\""; }
row_counts_check rows
pass "row counts of $checked main tables equal the manifest"
: >"$SAMPLE_LIST"
if [ "$SAMPLE_FILES" -gt 0 ] && [ -n "$(psql -X -A -t -c "SELECT to_regclass('public.files_files')")" ]; then
  psql -X -A -t -F ' ' -c "SELECT uri, substr(checksum, 5) FROM files_files WHERE uri IS NOT NULL AND checksum LIKE 'md5:%' ORDER BY random() LIMIT $SAMPLE_FILES" >"$SAMPLE_LIST" ||
    fail "could not sample files_files"
fi
stop
exit 0
