#!/bin/sh
# pg-dump.sh: dump the InvenioRDM database with a manifest (runs in the
# postgres image, the server's own version, so pg_dump matches its major).
#
# Environment: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE (libpq),
#   DUMP_DIR        where database.dump and manifest are written
#   MAIN_TABLES     tables whose row counts go into the manifest
#   INVENIO_VERSION the application image tag, recorded in the manifest
#
# The row counts and the dump come from one snapshot: a session exports
# it (pg_export_snapshot), counts in it, and pg_dump imports it, so the
# restore check can demand exact equality.
set -eu
log() { echo "pg-dump: $*"; }
: "${DUMP_DIR:?}" "${PGDATABASE:?}" "${MAIN_TABLES:?}"
mkdir -p "$DUMP_DIR"
work=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$work"' EXIT
mkfifo "$work/in"
# await LINE TENTHS WHAT: waits until the session printed a line starting
# with LINE, for at most TENTHS tenths of a second; fails if the session ends.
await() {
  i=0
  until grep -q "^$1" "$work/out" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt "$2" ] || ! kill -0 "$session" 2>/dev/null; then
      log "FAILED: $3: $(cat "$work/err")"
      exit 1
    fi
    sleep 0.1
  done
}
psql -X -q -A -t -v ON_ERROR_STOP=1 <"$work/in" >"$work/out" 2>"$work/err" &
session=$!
exec 3>"$work/in"
echo "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" >&3
echo "SELECT 'snapshot=' || pg_export_snapshot();" >&3
await snapshot= 600 "could not open a snapshot"
snapshot=$(sed -n 's/^snapshot=//p' "$work/out")
# Row counts in the exported snapshot; a table the schema lacks counts -1.
for t in $MAIN_TABLES; do
  echo "SELECT 'rows.$t=' || CASE WHEN to_regclass('public.$t') IS NULL THEN -1 ELSE (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM public.$t', false, true, '')))[1]::text::bigint END;" >&3
done
echo "SELECT 'postgresql_version=' || current_setting('server_version');" >&3
echo "SELECT 'done=1';" >&3
await done=1 6000 "counting rows"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if ! pg_dump --format=custom --compress=6 --no-owner --snapshot="$snapshot" --file="$DUMP_DIR/database.dump.partial"; then
  log "FAILED: pg_dump"
  exit 1
fi
echo "COMMIT;" >&3
exec 3>&-
wait "$session" || { log "FAILED: snapshot session: $(cat "$work/err")"; exit 1; }
mv "$DUMP_DIR/database.dump.partial" "$DUMP_DIR/database.dump"
size=$(wc -c <"$DUMP_DIR/database.dump" | tr -d ' ')
sum=$(sha256sum "$DUMP_DIR/database.dump" | cut -d' ' -f1)
{
  echo "created=$started"
  echo "database=$PGDATABASE"
  echo "file=database.dump"
  echo "format=pg_dump custom, compression 6"
  echo "size=$size"
  echo "sha256=$sum"
  grep '^postgresql_version=' "$work/out"
  echo "invenio_version=${INVENIO_VERSION:-unknown}"
  grep '^rows\.' "$work/out"
} >"$DUMP_DIR/manifest"
log "OK: $PGDATABASE at $started, $size bytes, sha256 $sum"
