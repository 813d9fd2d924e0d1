#!/bin/sh
# restic-fetch.sh: restore the latest backup of one tag into a directory
# (restore check, first step; restic image).
#
# Environment: RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_CACHE_DIR (and AWS_*),
#   BACKUP_TAG BACKUP_HOST  which series
#   FETCH_TARGET            where to restore (paths keep their full name below it)
#   RESULTS                 the directory each step writes its PASS/FAIL line to
#   ONLY_IF                 (restore) fetch only if this file exists
set -u
: "${BACKUP_TAG:?}" "${BACKUP_HOST:?}" "${FETCH_TARGET:?}" "${RESULTS:?}"
# The steps run as different users: the results directory is shared.
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
step="fetch-$BACKUP_TAG"
if [ -n "${ONLY_IF:-}" ] && [ ! -e "$ONLY_IF" ]; then
  echo "PASS $step: skipped (nothing to restore)" >>"$RESULTS/$step"
  exit 0
fi
# A previous run's copy would mix with this one.
rm -rf "$FETCH_TARGET"
if out=$(restic restore latest --host "$BACKUP_HOST" --tag "$BACKUP_TAG" --target "$FETCH_TARGET" 2>&1); then
  # restic restores the backed-up modes (pg-dump.sh's 0700 directory); the
  # next steps run as other users (the database check as postgres).
  chmod -R a+rX "$FETCH_TARGET"
  id=$(restic snapshots latest --host "$BACKUP_HOST" --tag "$BACKUP_TAG" --json 2>/dev/null | grep -o '"short_id":"[^"]*"' | head -n1 | cut -d'"' -f4)
  echo "PASS $step: snapshot ${id:-?} restored" >>"$RESULTS/$step"
else
  echo "FAIL $step: $(echo "$out" | tail -n1)" >>"$RESULTS/$step"
fi
exit 0
