#!/bin/sh
# Runs the headless-browser test of the dashboard (node --test, playwright-core driving
# Debian's chromium) against $BIN/neurond and prints one line:
#   browser: N passed, N failed
# Installs what it needs first (tests/browser/setup.sh). The screenshot is $BUILD/dashboard.png.
set -u
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
BUILD=${BUILD:-build}
export BIN BUILD
if ! tests/browser/setup.sh >"$BUILD/browser-setup.log" 2>&1; then
    cat "$BUILD/browser-setup.log"
    echo "browser: 0 passed, 1 failed (setup)"
    exit 1
fi
out=$(timeout 300 node --test --test-reporter=tap tests/browser/ 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^(not )?ok |^# (Subtest|pass|fail)|^ +(error|expected|actual|at TestContext)' | head -80
passed=$(printf '%s\n' "$out" | sed -n 's/^# pass \([0-9]*\)/\1/p' | tail -1)
failed=$(printf '%s\n' "$out" | sed -n 's/^# fail \([0-9]*\)/\1/p' | tail -1)
passed=${passed:-0}
failed=${failed:-0}
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    printf '%s\n' "$out" | tail -30
    failed=1
fi
echo "browser: $passed passed, $failed failed"
[ "$rc" -eq 0 ] && [ "$passed" -gt 0 ]
