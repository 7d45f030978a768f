"""Shared helpers for the Python peer benchmarks (bench/peers/*.py).

What and why: the peers must train the very networks bench_nn trains, on data of the same
shape and kind, and report the same figures (median rows/s of several runs, wall and CPU), so
`make bench` can print them side by side as ratios. Each peer prints one line per result as
`RESULT <key> <value>` on stdout (read by bench/summary.py) plus a human line on stderr.
Data: uniform features in [0, 1), labels from a fixed random linear map (argmax over k scores;
k == 1: sign), exactly as bench/bench_nn.c makes them (values differ, the distribution does not).
"""
import statistics
import sys
import time

try:
    import numpy as np
except ImportError:
    print(f"{sys.argv[0]}: numpy missing (scripts/deps.sh bench installs the peers); skipped",
          file=sys.stderr)
    sys.exit(0)

# (name, inputs, hidden, outputs, rows, batch, epochs, optimiser, learning rate, runs)
CONFIGS = {
    "a": dict(inputs=57, hidden=64, outputs=1, rows=4601, batch=32, epochs=50, opt="sgd",
              lr=0.01, runs=3),
    "b": dict(inputs=784, hidden=128, outputs=10, rows=60000, batch=64, epochs=1, opt="adam",
              lr=0.001, runs=3),
}


def make_data(c, seed=7):
    rng = np.random.default_rng(seed)
    k = max(c["outputs"], 1)
    proj = rng.uniform(-1, 1, size=(c["inputs"], k)).astype(np.float32)
    x = rng.uniform(0, 1, size=(c["rows"], c["inputs"])).astype(np.float32)
    s = (x - 0.5) @ proj
    if c["outputs"] == 1:
        y = (s[:, 0] > 0).astype(np.float32)
    else:
        y = s.argmax(axis=1).astype(np.int64)
    return x, y


def timed(fn, runs):
    """Runs fn() `runs` times; returns (median wall s, median CPU s)."""
    walls, cpus = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def report(peer, name, c, wall, cpu):
    rows = c["rows"] * c["epochs"]
    print(f"RESULT train_{name}_{peer}_rows_s {rows / wall:.0f}")
    print(f"RESULT train_{name}_{peer}_cpu_rows_s {rows / cpu:.0f}")
    print(f"  {peer} ({name}): {wall:.3f} s wall = {rows / wall:.0f} rows/s; {cpu:.3f} s CPU = "
          f"{rows / cpu:.0f} rows/s (medians of {c['runs']})", file=sys.stderr)
    sys.stdout.flush()
