#!/bin/sh
# Runs every benchmark and ends with one summary table: neurond beside its peers and ceilings.
#   scripts/run-bench.sh            (BIN and BUILD come from the Makefile; defaults bin, build)
# In order: the C benchmarks build/bench/bench_* (each prints its section "== bench_<name> =="),
# bench_nn once more without OPENBLAS_CORETYPE when that variable is set (in that command only),
# the training peers (bench/peers: PyTorch, scikit-learn, FANN), bench/system_bench.py (HTTP
# with wrk, spam training, memory), bench/onnx_bench.py (an imported PyTorch MLP's /predict
# beside neurond's own, ONNX Runtime's per-row latency from node), bench/auto_bench.py (auto
# beside GridSearchCV on digits, 1 and 2 workers), bench/cluster.py (replicas
# on a throwaway PostgreSQL), then bench/summary.py. Each appends `RESULT key value` lines
# to $BUILD/bench/results.txt, which the summary reads. A peer or tool that is missing is
# reported and skipped. Add a C bench by adding bench/bench_<name>.c (the Makefile builds it).
# bench_http (the C version of the HTTP comparison) runs only with BENCH_HTTP_C=1.
# Takes about 7-9 minutes. Exit status: non-zero only if a C bench failed; it is never part
# of `make test`.
set -u
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
CC=${CC:-cc}
RESULTS="$BUILD/bench/results.txt"
mkdir -p "$BUILD/bench"
: >"$RESULTS"
echo "RESULT load_start $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" >>"$RESULTS"
BENCH_RESULTS="$RESULTS"
export BENCH_RESULTS BIN BUILD
# Debian's python3-torch, -sklearn and -flask install for the system interpreter.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
status=0

# helpers built here: they are not benchmarks of their own, so the Makefile does not build them
WFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Wpedantic -Werror -O2"
# shellcheck disable=SC2046,SC2086
if ! $CC $WFLAGS -pthread $(pkg-config --cflags libmicrohttpd) bench/mhd_empty.c \
    -o "$BUILD/bench/mhd_empty" $(pkg-config --libs libmicrohttpd); then
    echo "bench: cannot build bench/mhd_empty.c: the HTTP ceiling will be missing"
fi
rm -f "$BUILD/bench/fann_mlp"
if pkg-config --exists fann 2>/dev/null; then
    # shellcheck disable=SC2046,SC2086
    $CC $WFLAGS bench/peers/fann_mlp.c -o "$BUILD/bench/fann_mlp" $(pkg-config --cflags --libs fann) ||
        echo "bench: cannot build bench/peers/fann_mlp.c: the FANN peer will be missing"
fi

found=0
for b in "$BUILD"/bench/bench_*; do
    { [ -f "$b" ] && [ -x "$b" ]; } || continue
    found=1
    # bench_http's comparison (daemon vs an empty libmicrohttpd handler) is made by
    # bench/system_bench.py below, beside the Flask peer; run it alone with BENCH_HTTP_C=1
    if [ "$(basename "$b")" = bench_http ] && [ "${BENCH_HTTP_C:-0}" != 1 ]; then
        echo "== bench_http: skipped (system_bench.py below makes the same comparison; BENCH_HTTP_C=1 runs it) =="
        echo
        continue
    fi
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

if [ -n "${OPENBLAS_CORETYPE:-}" ] && [ -x "$BUILD/bench/bench_nn" ]; then
    echo "== bench_nn again without OPENBLAS_CORETYPE (set to $OPENBLAS_CORETYPE here): the" \
        "kernel OpenBLAS picks by itself =="
    env -u OPENBLAS_CORETYPE BENCH_TAG=native_ "$BUILD/bench/bench_nn" || status=1
    echo
fi

echo "== peers: the same training runs in PyTorch, scikit-learn and FANN =="
"$PY" bench/peers/torch_mlp.py >>"$RESULTS"
"$PY" bench/peers/sklearn_mlp.py >>"$RESULTS"
if [ -x "$BUILD/bench/fann_mlp" ]; then
    "$BUILD/bench/fann_mlp" >>"$RESULTS"
else
    echo "  fann: libfann-dev missing (scripts/deps.sh bench installs it); skipped"
fi
echo

"$PY" bench/system_bench.py
echo

"$PY" bench/onnx_bench.py
echo

# auto (issue 19): a search beside GridSearchCV on digits, and the pool's scaling
"$PY" bench/auto_bench.py || status=1
echo

# replicas on one PostgreSQL (issue 18): /predict beside SQLite, jobs per minute with 1-3
# replicas, a version's way from one replica to another; runs alone as bench/cluster.py
"$PY" bench/cluster.py
echo

"$PY" bench/summary.py "$RESULTS"
exit $status
