#!/bin/sh
# restore-check-report.sh: the verdict. Prints every step's line and one
# summary line, writes the summary to the termination message, and exits
# non-zero unless every expected step passed (the Job then fails: the
# job controller records an Event and kube-state-metrics the failure).
#
# Environment: RESULTS  the directory of the steps' PASS/FAIL lines (one
#   file per step: the steps run as different users)
#   EXPECTED  the steps that must have reported, e.g. "fetch-postgresql database"
#   REPORT    the name the summary starts with (default restore-check)
set -u
: "${RESULTS:?}" "${EXPECTED:?}"
all=$(cat "$RESULTS"/* 2>/dev/null)
[ -n "$all" ] && echo "$all"
missing=""
for s in $EXPECTED; do
  echo "$all" | grep -q "^[A-Z]* $s:" || missing="$missing $s"
done
failed=$(echo "$all" | grep -c '^FAIL' || true)
passed=$(echo "$all" | grep -c '^PASS' || true)
if [ "${failed:-0}" -eq 0 ] && [ -z "$missing" ]; then
  summary="${REPORT:-restore-check}: OK: ${passed} checks passed"
  code=0
else
  summary="${REPORT:-restore-check}: FAILED: ${failed:-0} failed, ${passed:-0} passed${missing:+, no report from:$missing}"
  code=1
fi
echo "$summary"
if [ -w /dev/termination-log ]; then echo "$summary" >/dev/termination-log; fi
exit "$code"
