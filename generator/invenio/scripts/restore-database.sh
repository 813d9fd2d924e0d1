#!/bin/sh
# restore-database.sh: the database part of a restore into an empty
# environment (postgres image: psql and pg_restore of the server's major
# version).
#
# The restore's record is the row "restore" of the install record
# (invenio_setup_step, setup_state.py): written with the restored database,
# ended only when every check passed. The setup Job waits for it to end
# (PLATFORM_RESTORE), so neither it nor the application pods (whose
# release rows the restore deletes) start on a restore that failed.
#
# MODE=guard   first step: decides whether there is anything to restore.
#   A database holding tables and no unfinished restore is never touched:
#   the step records "nothing restored" (the row, ended, so that a waiting
#   setup Job goes on) and the other steps skip. One holding an unfinished
#   restore of an earlier attempt is emptied. An empty one: the step
#   creates RESTORE_MARK, which the other steps require.
# MODE=restore last step, only when every earlier step passed: the fetched
#   dump checked against its manifest, restored in one transaction (a
#   failure leaves the database empty), the restore row written and the
#   release rows deleted, the row counts of the main tables compared with
#   the manifest, every uploaded file the database names checked against
#   its MD5 in files_files (when the files were restored); then the row
#   ended.
#
# Environment: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE  the live server
#   MODE  RESTORE_MARK  RESULTS (directory of PASS/FAIL lines)
#   DUMP_DIR     the fetched dump directory (database.dump, manifest)
#   CHECK_FILES  1: check the uploaded files (mounted at their own path)
set -u
: "${MODE:?}" "${RESTORE_MARK:?}" "${RESULTS:?}"
. "$(dirname "$0")/restore-lib.sh"
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
step=guard
[ "$MODE" = restore ] && step=database
pass() { echo "PASS $step: $*" >>"$RESULTS/$step"; }
fail() { echo "FAIL $step: $*" >>"$RESULTS/$step"; exit 0; }
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
record="public.invenio_setup_step"
# As setup_state.py makes it.
table="CREATE TABLE IF NOT EXISTS $record (step text PRIMARY KEY, started timestamptz NOT NULL, ended timestamptz)"
# tables sets n to the number of tables in the public schema, or fails
# the step: only a number counts (psql may warn on stderr, e.g. about its
# working directory).
tables() {
  err=$(mktemp)
  n=$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" 2>"$err") || fail "cannot read the database: $(cat "$err")"
  case $n in '' | *[!0-9]*) fail "cannot read the database: psql answered '$n'" ;; esac
}

if [ "$MODE" = guard ]; then
  rm -f "$RESTORE_MARK"
  # The server may still be starting (a new environment).
  i=0
  until pg_isready -q -t 5; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || fail "PostgreSQL at $PGHOST:${PGPORT:-5432} did not answer within 10 minutes"
    sleep 5
  done
  tables
  if [ "$n" != 0 ]; then
    unfinished=$(sql "SELECT 1 FROM $record WHERE step = 'restore' AND ended IS NULL" 2>/dev/null | tail -n1)
    if [ "$unfinished" != 1 ]; then
      out=$(sql "$table; INSERT INTO $record (step, started, ended) VALUES ('restore', now(), now()) ON CONFLICT (step) DO NOTHING" 2>&1) ||
        fail "cannot record that nothing was restored: $out"
      pass "the database holds $n tables: nothing restored (an environment with data is never overwritten)"
      exit 0
    fi
    # Ours: an earlier attempt restored it and died or failed its checks.
    out=$(sql "DROP SCHEMA public CASCADE; CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO PUBLIC" 2>&1) ||
      fail "cannot empty the unfinished restore of an earlier attempt: $out"
    pass "an earlier attempt's unfinished restore ($n tables) emptied: restoring again"
  else
    pass "the database is empty: restoring the latest backups"
  fi
  : >"$RESTORE_MARK" || fail "cannot write $RESTORE_MARK"
  exit 0
fi

if [ ! -e "$RESTORE_MARK" ]; then
  pass "skipped (nothing to restore)"
  exit 0
fi
# The database comes last and only on whole files and indices.
failed=$(cat "$RESULTS"/* 2>/dev/null | grep '^FAIL' | cut -d: -f1 | sed 's/^FAIL //' | tr '\n' ' ')
[ -z "$failed" ] || fail "not restored: step(s) ${failed% } failed (their lines above); the database stays empty and the Job's next attempt starts again"
: "${DUMP_DIR:?}"
dump_check "$DUMP_DIR"
tables
[ "$n" = 0 ] || fail "the database got $n tables while the restore ran: not restored over them"
start=$(date +%s)
log=$(mktemp)
if ! pg_restore --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$PGDATABASE" "$dump" >"$log" 2>&1; then
  fail "pg_restore (rolled back, the database is empty again): $(tail -n1 "$log")"
fi
tables
[ "$n" != 0 ] || fail "the dump of $(want created) restored no table: not an InvenioRDM database"
# Written before any check: until it ends, the setup Job waits and a
# retry empties the database again. The release rows go: the setup Job
# writes its own once it has upgraded the restored install.
out=$(sql "BEGIN; $table; INSERT INTO $record (step, started) VALUES ('restore', now()) ON CONFLICT (step) DO UPDATE SET started = now(), ended = NULL; DELETE FROM $record WHERE step LIKE 'release %'; COMMIT" 2>&1) ||
  fail "cannot record the restore: $out"
pass "dump of $(want created) (InvenioRDM $(want invenio_version)) restored in $(($(date +%s) - start)) s ($n tables)"
rows() { sql "SELECT count(*) FROM public.\"$1\""; }
row_counts_check rows
pass "row counts of $checked main tables equal the manifest"
if [ "${CHECK_FILES:-0}" = 1 ] && [ -n "$(sql "SELECT to_regclass('public.files_files')")" ]; then
  list=$(mktemp)
  sql "SELECT checksum || ' ' || uri FROM files_files WHERE uri IS NOT NULL AND checksum LIKE 'md5:%' ORDER BY uri" >"$list" ||
    fail "cannot read files_files"
  n=0
  bad=""
  while read -r md5 uri; do
    [ -n "$uri" ] || continue
    n=$((n + 1))
    got=$(md5sum <"$uri" 2>/dev/null | cut -d' ' -f1)
    [ "md5:$got" = "$md5" ] || bad="$bad $uri"
  done <"$list"
  [ -z "$bad" ] || fail "uploaded files missing or differing from their checksum in files_files:$bad"
  pass "$n uploaded files match their checksums in files_files"
fi
out=$(sql "UPDATE $record SET ended = now() WHERE step = 'restore'" 2>&1) || fail "cannot record the end of the restore: $out"
pass "restore recorded as ended: the setup Job goes on"
exit 0
