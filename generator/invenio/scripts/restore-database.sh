#!/bin/sh
# restore-database.sh: the database part of a restore into an empty
# environment (postgres image: psql and pg_restore of the server's major
# version).
#
# MODE=guard   first step: decides whether there is anything to restore.
#   A database holding any table is never touched: the step writes
#   "nothing restored" and the other steps skip. An empty one: the step
#   creates RESTORE_MARK, which the other steps require.
# MODE=restore last step: the fetched dump checked against its manifest,
#   restored in one transaction (a failure leaves the database empty, and
#   the Job's next attempt starts again), the row counts of the main
#   tables compared with the manifest, and every uploaded file the
#   database names checked against its MD5 in files_files (when the files
#   were restored). Restoring the database last makes "the database holds
#   tables" mean "the restore is done": the setup Job waits for it.
#
# Environment: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE  the live server
#   MODE  RESTORE_MARK  RESULTS (directory of PASS/FAIL lines)
#   DUMP_DIR     the fetched dump directory (database.dump, manifest)
#   CHECK_FILES  1: check the uploaded files (mounted at their own path)
set -u
: "${MODE:?}" "${RESTORE_MARK:?}" "${RESULTS:?}"
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
step=guard
[ "$MODE" = restore ] && step=database
pass() { echo "PASS $step: $*" >>"$RESULTS/$step"; }
fail() { echo "FAIL $step: $*" >>"$RESULTS/$step"; exit 0; }
sql() { psql -X -A -t -v ON_ERROR_STOP=1 -c "$1"; }

if [ "$MODE" = guard ]; then
  rm -f "$RESTORE_MARK"
  # The server may still be starting (a new environment).
  i=0
  until pg_isready -q -t 5; do
    i=$((i + 1))
    [ "$i" -lt 120 ] || fail "PostgreSQL at $PGHOST:${PGPORT:-5432} did not answer within 10 minutes"
    sleep 5
  done
  n=$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" 2>&1) || fail "cannot read the database: $n"
  if [ "$n" != 0 ]; then
    pass "the database holds $n tables: nothing restored (an environment with data is never overwritten)"
    exit 0
  fi
  : >"$RESTORE_MARK" || fail "cannot write $RESTORE_MARK"
  pass "the database is empty: restoring the latest backups"
  exit 0
fi

if [ ! -e "$RESTORE_MARK" ]; then
  pass "skipped (nothing to restore)"
  exit 0
fi
: "${DUMP_DIR:?}"
manifest="$DUMP_DIR/manifest"
dump="$DUMP_DIR/database.dump"
[ -f "$manifest" ] || fail "no manifest in the fetched backup (did the fetch fail?)"
[ -f "$dump" ] || fail "no database.dump in the fetched backup"
want() { sed -n "s/^$1=//p" "$manifest"; }
size=$(wc -c <"$dump" | tr -d ' ')
[ "$size" = "$(want size)" ] || fail "the dump is $size bytes, its manifest says $(want size)"
sum=$(sha256sum "$dump" | cut -d' ' -f1)
[ "$sum" = "$(want sha256)" ] || fail "the dump's checksum $sum differs from its manifest's $(want sha256)"
n=$(sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" 2>&1) || fail "cannot read the database: $n"
[ "$n" = 0 ] || fail "the database got $n tables while the restore ran: not restored over them"
start=$(date +%s)
log=$(mktemp)
if ! pg_restore --no-owner --no-privileges --single-transaction --exit-on-error --dbname="$PGDATABASE" "$dump" >"$log" 2>&1; then
  fail "pg_restore (rolled back, the database is empty again): $(tail -n1 "$log")"
fi
pass "dump of $(want created) (InvenioRDM $(want invenio_version)) restored in $(($(date +%s) - start)) s"
bad=""
tables=0
for line in $(grep '^rows\.' "$manifest"); do
  t=${line#rows.}
  t=${t%%=*}
  want_rows=${line#*=}
  [ "$want_rows" = "-1" ] && continue
  got=$(sql "SELECT count(*) FROM public.\"$t\"" 2>/dev/null) || got=missing
  tables=$((tables + 1))
  [ "$got" = "$want_rows" ] || bad="$bad $t:$got/$want_rows"
done
[ -z "$bad" ] || fail "row counts differ from the manifest (table:restored/manifest):$bad"
pass "row counts of $tables main tables equal the manifest"
if [ "${CHECK_FILES:-0}" = 1 ] && [ -n "$(sql "SELECT to_regclass('public.files_files')")" ]; then
  list=$(mktemp)
  sql "SELECT uri || ' ' || substr(checksum, 5) FROM files_files WHERE uri IS NOT NULL AND checksum LIKE 'md5:%' ORDER BY uri" >"$list" ||
    fail "cannot read files_files"
  n=0
  bad=""
  while read -r uri md5; do
    [ -n "$uri" ] || continue
    n=$((n + 1))
    got=$(md5sum <"$uri" 2>/dev/null | cut -d' ' -f1)
    [ "$got" = "$md5" ] || bad="$bad $uri"
  done <"$list"
  [ -z "$bad" ] || fail "uploaded files missing or differing from their checksum in files_files:$bad"
  pass "$n uploaded files match their checksums in files_files"
fi
exit 0
