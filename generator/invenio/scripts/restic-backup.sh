#!/bin/sh
# restic-backup.sh: put a directory into the backup repository, then
# enforce retention (runs in the restic image; POSIX sh).
#
# Environment: RESTIC_REPOSITORY RESTIC_PASSWORD (and AWS_* for S3),
#   RESTIC_CACHE_DIR  a writable cache (the root filesystem is read-only)
#   BACKUP_PATH       the directory to back up
#   BACKUP_TAG        postgresql, files or opensearch
#   BACKUP_HOST       a fixed host name, so every run is one series
#   KEEP_DAILY        how many daily backups to keep
#   BACKUP_TIME       optional snapshot time (default now; tests back-date)
#
# set -e: retention runs only after the new backup was written and the
# repository checked, so a failed backup never deletes a good one.
set -eu
log() { echo "restic-backup[$BACKUP_TAG]: $*"; }
: "${BACKUP_PATH:?}" "${BACKUP_TAG:?}" "${BACKUP_HOST:?}" "${KEEP_DAILY:?}"
if [ ! -d "$BACKUP_PATH" ]; then
  log "FAILED: $BACKUP_PATH is not a directory"
  exit 1
fi
if ! restic cat config >/dev/null 2>&1; then
  log "initialising repository $RESTIC_REPOSITORY"
  restic init
fi
set -- --host "$BACKUP_HOST" --tag "$BACKUP_TAG"
if [ -n "${BACKUP_TIME:-}" ]; then
  set -- "$@" --time "$BACKUP_TIME"
fi
start=$(date +%s)
restic backup --quiet "$@" "$BACKUP_PATH"
restic check --quiet
restic forget --quiet --host "$BACKUP_HOST" --tag "$BACKUP_TAG" --group-by host,tags --keep-daily "$KEEP_DAILY" --prune
kept=$(restic snapshots --host "$BACKUP_HOST" --tag "$BACKUP_TAG" --json | grep -o '"short_id"' | wc -l | tr -d ' ')
log "OK: $BACKUP_PATH backed up in $(($(date +%s) - start)) s; $kept snapshots kept (at most $KEEP_DAILY daily)"
