#!/bin/sh
# opensearch-snapshot.sh: register the snapshot repository (idempotent),
# take a snapshot of every index, and delete the oldest beyond KEEP_DAILY
# only once the new one succeeded (curl in the opensearch image).
#
# The repository is of type fs at SNAPSHOT_DIR, a volume OpenSearch
# mounts under path.repo; restic-backup.sh then takes that directory off
# the cluster. Before the snapshot the document count of every statistics
# index is recorded in the snapshot's metadata: those indices exist only
# here, and the restore check compares against these counts.
#
# Environment: OPENSEARCH_URL  e.g. http://opensearch:9200
#   SNAPSHOT_REPOSITORY  repository name       SNAPSHOT_DIR  its location
#   STATS_INDICES        comma-separated patterns of the statistics indices
#   KEEP_DAILY           snapshots to keep     MODE  register (only) or snapshot
#   OPENSEARCH_WAIT      seconds to wait for OpenSearch to come up (default 600):
#                        the repository Job starts with the data layer
set -eu
log() { echo "opensearch-snapshot: $*"; }
: "${OPENSEARCH_URL:?}" "${SNAPSHOT_REPOSITORY:?}" "${SNAPSHOT_DIR:?}" "${STATS_INDICES:?}" "${KEEP_DAILY:?}"
os() { curl -fsS --max-time 3600 -H 'Content-Type: application/json' "$@"; }
repo="$OPENSEARCH_URL/_snapshot/$SNAPSHOT_REPOSITORY"
waited=0
until curl -fsS --max-time 15 "$OPENSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=10s" >/dev/null 2>&1; do
  if [ "$waited" -ge "${OPENSEARCH_WAIT:-600}" ]; then
    log "FAILED: OpenSearch at $OPENSEARCH_URL did not answer within ${OPENSEARCH_WAIT:-600} s"
    exit 1
  fi
  sleep 10
  waited=$((waited + 10))
done
os -X PUT "$repo" -d "{\"type\":\"fs\",\"settings\":{\"location\":\"$SNAPSHOT_DIR\",\"compress\":true}}" >/dev/null
log "repository $SNAPSHOT_REPOSITORY at $SNAPSHOT_DIR registered"
if [ "${MODE:-snapshot}" = register ]; then exit 0; fi

# Only sh, curl, grep, sed and coreutils (no awk, no jq): the least an image has.
counts=$(os "$OPENSEARCH_URL/_cat/indices/$STATS_INDICES?h=index,docs.count&expand_wildcards=open" |
  while read -r idx n; do [ -n "$n" ] && printf '"%s":%s,' "$idx" "$n"; done)
counts=${counts%,}
name="daily-$(date -u +%Y%m%d-%H%M%S)"
start=$(date +%s)
out=$(os -X PUT "$repo/$name?wait_for_completion=true" \
  -d "{\"indices\":\"*,-.*\",\"include_global_state\":false,\"metadata\":{\"stats_counts\":{$counts}}}")
if ! echo "$out" | grep -q '"state":"SUCCESS"'; then
  log "FAILED: snapshot $name: $out"
  exit 1
fi
log "snapshot $name: SUCCESS in $(($(date +%s) - start)) s"
# Names sort by time; keep the newest KEEP_DAILY of ours.
all=$(os "$repo/_all" | grep -o '"snapshot":"daily-[^"]*"' | cut -d'"' -f4 | sort)
total=$(echo "$all" | grep -c . || true)
drop=$((total - KEEP_DAILY))
if [ "$drop" -gt 0 ]; then
  for old in $(echo "$all" | head -n "$drop"); do
    os -X DELETE "$repo/$old" >/dev/null
    log "deleted $old (retention $KEEP_DAILY)"
  done
fi
log "OK: $name; $((total - (drop > 0 ? drop : 0))) snapshots kept"
