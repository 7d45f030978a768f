#!/bin/sh
# Runs the API tests (pytest, Debian's python3) against $BIN/neurond and prints one line:
#   api: N passed, N failed
# Exits non-zero when a test fails or none ran. NEUROND_SUITE=browser runs the pytest suite of
# tests/browser instead, with a "browser:" line (tests/browser/run.sh does that).
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
SUITE=${NEUROND_SUITE:-api}
export BIN
if [ ! -x "$BIN/neurond" ]; then
    echo "$SUITE: $BIN/neurond is missing (make first)"
    echo "$SUITE: 0 passed, 1 failed"
    exit 1
fi
out=$(/usr/bin/python3 -m pytest -q -p no:cacheprovider "tests/$SUITE" "$@" 2>&1)
rc=$?
printf '%s\n' "$out"
summary=$(printf '%s\n' "$out" | tail -1)
passed=$(printf '%s\n' "$summary" | sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p; s/^\([0-9][0-9]*\) passed.*/\1/p' | head -1)
failed=$(printf '%s\n' "$summary" | sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p; s/^\([0-9][0-9]*\) failed.*/\1/p' | head -1)
errors=$(printf '%s\n' "$summary" | sed -n 's/.* \([0-9][0-9]*\) errors\{0,1\}.*/\1/p' | head -1)
passed=${passed:-0}
failed=$(( ${failed:-0} + ${errors:-0} ))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    failed=1
fi
echo "$SUITE: $passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$passed" -gt 0 ]
