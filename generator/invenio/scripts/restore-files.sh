#!/bin/sh
# restore-files.sh: the uploaded files of the latest files backup put back
# on the files volume, at the path the application stores them at (restic
# image). Runs only when the database was empty (RESTORE_MARK); files a
# failed earlier attempt left are overwritten.
#
# Environment: RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_CACHE_DIR (and AWS_*),
#   BACKUP_HOST  FILES_PATH (the files volume)  RESTORE_MARK  RESULTS
set -u
: "${BACKUP_HOST:?}" "${FILES_PATH:?}" "${RESTORE_MARK:?}" "${RESULTS:?}"
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
if [ ! -e "$RESTORE_MARK" ]; then
  echo "PASS files: skipped (nothing to restore)" >>"$RESULTS/files"
  exit 0
fi
start=$(date +%s)
# Restored below the volume itself, then moved into place (a rename on the
# same filesystem): restic keeps the full path below --target, and
# "latest:<path>" needs restic 0.16.
stage="$FILES_PATH/.restore"
rm -rf "$stage"
if ! out=$(restic restore latest --host "$BACKUP_HOST" --tag files --target "$stage" 2>&1); then
  echo "FAIL files: restic restore: $(echo "$out" | tail -n1)" >>"$RESULTS/files"
  exit 0
fi
if [ ! -d "$stage$FILES_PATH" ]; then
  echo "FAIL files: the latest files backup holds no $FILES_PATH" >>"$RESULTS/files"
  exit 0
fi
for p in "$stage$FILES_PATH"/* "$stage$FILES_PATH"/.[!.]*; do
  [ -e "$p" ] || continue
  rm -rf "$FILES_PATH/${p##*/}"
  mv "$p" "$FILES_PATH/" || { echo "FAIL files: cannot move ${p##*/} into $FILES_PATH" >>"$RESULTS/files"; exit 0; }
done
rm -rf "$stage"
n=$(find "$FILES_PATH" -type f | wc -l | tr -d ' ')
id=$(restic snapshots latest --host "$BACKUP_HOST" --tag files --json 2>/dev/null | grep -o '"short_id":"[^"]*"' | head -n1 | cut -d'"' -f4)
echo "PASS files: snapshot ${id:-?} restored to $FILES_PATH ($n files) in $(($(date +%s) - start)) s" >>"$RESULTS/files"
exit 0
