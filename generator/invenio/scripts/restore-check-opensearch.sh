#!/bin/sh
# restore-check-opensearch.sh: restore the statistics indices of the
# latest snapshot, fetched back from the backup target into RESTORED_DIR,
# under a restore-check- prefix; compare their document counts with the
# counts recorded at snapshot time; delete them again (curl in the
# opensearch image). The live indices are never written: the restored
# copies have their own names and the repository is registered read-only.
#
# Environment: OPENSEARCH_URL  RESTORED_DIR (the fetched repository)
#   STATS_INDICES  comma-separated patterns   RESULTS  directory of PASS/FAIL lines
set -u
: "${OPENSEARCH_URL:?}" "${RESTORED_DIR:?}" "${STATS_INDICES:?}" "${RESULTS:?}"
. "$(dirname "$0")/restore-lib.sh"
os() { curl -fsS --max-time 3600 -H 'Content-Type: application/json' "$@"; }
fail() { echo "FAIL opensearch: $*" >>"$RESULTS/opensearch"; cleanup; exit 0; }
# The steps run as different users: the results directory is shared.
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
repo="$OPENSEARCH_URL/_snapshot/restore-check"
cleanup() {
  os -X DELETE "$OPENSEARCH_URL/restore-check-*" >/dev/null 2>&1
  os -X DELETE "$repo" >/dev/null 2>&1
  rm -rf "$RESTORED_DIR" # the fetched copy: as large as the indices
  return 0
}
[ -d "$RESTORED_DIR" ] || fail "nothing fetched at $RESTORED_DIR (fetch failed?)"
os -X PUT "$repo" -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$RESTORED_DIR\",\"readonly\":true}}" >/dev/null ||
  fail "could not register the fetched repository $RESTORED_DIR"
latest=$(os "$repo/_all" | grep -o '"snapshot":"daily-[^"]*"' | cut -d'"' -f4 | sort | tail -n1)
[ -n "$latest" ] || fail "the fetched repository holds no snapshot"
info=$(os "$repo/$latest") || fail "cannot read snapshot $latest"
echo "$info" | grep -q '"state":"SUCCESS"' || fail "snapshot $latest is not SUCCESS"
if [ -z "$(stats_counts "$info")" ]; then
  echo "PASS opensearch: snapshot $latest is complete; it holds no statistics indices yet" >>"$RESULTS/opensearch"
  cleanup
  exit 0
fi
out=$(os -X POST "$repo/$latest/_restore?wait_for_completion=true" -d "{\"indices\":\"$STATS_INDICES\",\"include_global_state\":false,\"rename_pattern\":\"(.+)\",\"rename_replacement\":\"restore-check-\$1\",\"index_settings\":{\"index.number_of_replicas\":0}}") ||
  fail "restore of $latest failed"
echo "$out" | grep -q '"failed":0' || fail "restore of $latest: $out"
os -X POST "$OPENSEARCH_URL/restore-check-*/_refresh" >/dev/null 2>&1
stats_counts_check "$info" restore-check-
echo "PASS opensearch: $stats statistics indices of $latest restored with all recorded documents" >>"$RESULTS/opensearch"
cleanup
exit 0
