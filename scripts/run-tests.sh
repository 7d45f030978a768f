#!/bin/sh
# Runs the test suites and ends with one summary line "tests: N passed, N failed".
#   scripts/run-tests.sh unit|api|browser|all      (BUILD and BIN come from the Makefile)
# Unit tests: every build/tests/test_* cmocka binary, run from the repository root.
# API tests: tests/api/run.sh drives the real daemon over loopback HTTP (tests/browser/setup.sh
# first: the OpenAPI check runs a node validator, the metrics check promtool).
# Browser tests: tests/browser/run.sh, the dashboard in headless Chromium (selenium).
# A setup step that fails prints its own output and why.
set -u
what=${1:-all}
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
passed=0
failed=0
failed_names=""

# add_counts NAME RC OUTPUT PASSED_RE FAILED_RE: prints OUTPUT and adds to the totals the last
# counts the two sed patterns find in it (their group 1); a non-zero RC with no failure counted
# counts as one (crashed, or failed before anything was counted). NAME joins the failed list.
add_counts() {
    printf '%s\n' "$3"
    p=$(printf '%s\n' "$3" | sed -n "s/$4/\1/p" | tail -1)
    f=$(printf '%s\n' "$3" | sed -n "s/$5/\1/p" | tail -1)
    p=${p:-0}
    f=${f:-0}
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -gt 0 ]; then
        failed_names="$failed_names $1"
    fi
}

# tally SUITE RC OUTPUT: a suite whose output ends with "SUITE: N passed, N failed".
tally() {
    add_counts "$1" "$2" "$3" "^$1: \([0-9]*\) passed, [0-9]* failed.*" \
        "^$1: [0-9]* passed, \([0-9]*\) failed.*"
}

if [ "$what" = unit ] || [ "$what" = all ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        out=$("$t" 2>&1)
        rc=$?
        add_counts "$(basename "$t")" "$rc" "$out" '^\[  PASSED  \] \([0-9]*\) test.*' \
            '^\[  FAILED  \] \([0-9]*\) test.*'
    done
fi

if [ "$what" = api ] || [ "$what" = all ]; then
    if [ -x tests/api/run.sh ]; then
        # what the OpenAPI and metrics checks need; a failure shows its output and the reason,
        # counts as one, and the API tests still run
        if [ -x tests/browser/setup.sh ] && ! setup=$(tests/browser/setup.sh 2>&1); then
            printf '%s\n' "$setup"
            echo "api: setup failed: tests/browser/setup.sh (promtool, node, the npm validator) exited non-zero, output above"
            failed=$((failed + 1))
            failed_names="$failed_names api-setup"
        fi
        out=$(BIN="$BIN" tests/api/run.sh 2>&1)
        tally api "$?" "$out"
    fi
fi

if [ "$what" = browser ] || [ "$what" = all ]; then
    if [ -x tests/browser/run.sh ]; then
        out=$(BIN="$BIN" BUILD="$BUILD" tests/browser/run.sh 2>&1)
        tally browser "$?" "$out"
    fi
fi

[ -n "$failed_names" ] && echo "failing suites:$failed_names"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
