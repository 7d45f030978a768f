#!/bin/sh
# Runs every benchmark binary build/bench/bench_* in name order and prints what each prints.
#   scripts/run-bench.sh            (BUILD comes from the Makefile; default build)
# Each bench prints its own section headed "== bench_<name>: ... =="; add a bench by adding
# bench/bench_<name>.c (the Makefile builds it). Exit status: non-zero if any bench failed.
set -u
BUILD=${BUILD:-build}
status=0
found=0
for b in "$BUILD"/bench/bench_*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    found=1
    "$b"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "bench: $(basename "$b") failed with status $rc"
        status=1
    fi
    echo
done
if [ "$found" -eq 0 ]; then
    echo "bench: no benchmarks in $BUILD/bench (run make bench)"
    exit 1
fi
exit $status
