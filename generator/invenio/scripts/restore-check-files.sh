#!/bin/sh
# restore-check-files.sh: take the files the database check sampled from
# the restored files_files table out of the latest files backup and
# compare their MD5 with the checksum InvenioRDM stored (restic image).
#
# Environment: RESTIC_REPOSITORY RESTIC_PASSWORD RESTIC_CACHE_DIR (and AWS_*),
#   BACKUP_HOST   the series host
#   SAMPLE_LIST   "<uri> <md5>" lines written by restore-check-database.sh
#   RESULTS       the directory each step writes its PASS/FAIL line to
set -u
: "${BACKUP_HOST:?}" "${SAMPLE_LIST:?}" "${RESULTS:?}"
# The steps run as different users: the results directory is shared.
mkdir -p "$RESULTS" && chmod 1777 "$RESULTS" 2>/dev/null
if [ ! -f "$SAMPLE_LIST" ]; then
  echo "FAIL files: no sample (the database check did not run)" >>"$RESULTS/files"
  exit 0
fi
n=0
bad=""
while read -r uri md5; do
  [ -n "$uri" ] || continue
  n=$((n + 1))
  got=$(restic dump --host "$BACKUP_HOST" --tag files latest "$uri" 2>/dev/null | md5sum | cut -d' ' -f1)
  [ "$got" = "$md5" ] || bad="$bad $uri"
done <"$SAMPLE_LIST"
if [ -n "$bad" ]; then
  echo "FAIL files: checksum differs from files_files for:$bad" >>"$RESULTS/files"
elif [ "$n" -eq 0 ]; then
  echo "PASS files: the database has no files to sample" >>"$RESULTS/files"
else
  echo "PASS files: $n sampled files match the checksums in files_files" >>"$RESULTS/files"
fi
exit 0
