#!/bin/sh
# restore-opensearch.sh: every index of the instance's prefix restored from
# the latest snapshot, fetched back from the backup target into
# RESTORED_DIR (curl in the opensearch image). Runs only when the database
# was empty (RESTORE_MARK); indices of the prefix a failed earlier attempt
# left are deleted first. The statistics indices exist nowhere else: their
# document counts are compared with the counts recorded at snapshot time.
# The record indices come back too (InvenioRDM can rebuild them from the
# database, `invenio rdm rebuild-all-indices`, which takes much longer).
# Templates are not restored (include_global_state false): the setup Job
# puts the release's own.
#
# Environment: OPENSEARCH_URL  RESTORED_DIR  INDEX_PREFIX  RESTORE_MARK  RESULTS
set -u
: "${OPENSEARCH_URL:?}" "${RESTORED_DIR:?}" "${INDEX_PREFIX:?}" "${RESTORE_MARK:?}" "${RESULTS:?}"
. "$(dirname "$0")/restore-lib.sh"
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
os() { curl -fsS --max-time 21600 -H 'Content-Type: application/json' "$@"; }
repo="$OPENSEARCH_URL/_snapshot/restore"
cleanup() {
  os -X DELETE "$repo" >/dev/null 2>&1
  rm -rf "$RESTORED_DIR" # the fetched copy: as large as the indices
  return 0
}
fail() { echo "FAIL opensearch: $*" >>"$RESULTS/opensearch"; cleanup; exit 0; }
if [ ! -e "$RESTORE_MARK" ]; then
  echo "PASS opensearch: skipped (nothing to restore)" >>"$RESULTS/opensearch"
  exit 0
fi
[ -d "$RESTORED_DIR" ] || fail "nothing fetched at $RESTORED_DIR (did the fetch fail?)"
i=0
until os "$OPENSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 120 ] || fail "OpenSearch at $OPENSEARCH_URL did not answer within 10 minutes"
  sleep 5
done
os -X PUT "$repo" -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$RESTORED_DIR\",\"readonly\":true}}" >/dev/null ||
  fail "could not register the fetched repository $RESTORED_DIR"
latest=$(os "$repo/_all" | grep -o '"snapshot":"daily-[^"]*"' | cut -d'"' -f4 | sort | tail -n1)
[ -n "$latest" ] || fail "the fetched repository holds no snapshot"
info=$(os "$repo/$latest") || fail "cannot read snapshot $latest"
echo "$info" | grep -q '"state":"SUCCESS"' || fail "snapshot $latest is not SUCCESS"
left=$(os "$OPENSEARCH_URL/_cat/indices/$INDEX_PREFIX-*?h=index" 2>/dev/null | cut -d' ' -f1)
for idx in $left; do
  os -X DELETE "$OPENSEARCH_URL/$idx" >/dev/null || fail "could not delete $idx, left by an earlier attempt"
done
out=$(os -X POST "$repo/$latest/_restore?wait_for_completion=true" -d "{\"indices\":\"$INDEX_PREFIX-*\",\"include_global_state\":false,\"include_aliases\":true}") ||
  fail "restore of $latest failed"
echo "$out" | grep -q '"shards":{[^}]*"failed":0[,}]' || fail "restore of $latest: $out"
# The names restored; none means the snapshot has no index of this prefix
# (search.indexPrefix must be the one the backups were made with).
restored=$(echo "$out" | grep -o '"indices":\[[^]]*\]' | sed 's/^"indices":\[//; s/\]$//' | tr ',' '\n' | grep -c '"' || true)
[ "$restored" -gt 0 ] || fail "snapshot $latest holds no index of prefix $INDEX_PREFIX: is search.indexPrefix the one of the environment the backups come from?"
os -X POST "$OPENSEARCH_URL/$INDEX_PREFIX-*/_refresh" >/dev/null 2>&1
stats_counts_check "$info" ""
echo "PASS opensearch: $restored indices of $latest restored; $stats statistics indices with all recorded documents" >>"$RESULTS/opensearch"
cleanup
exit 0
