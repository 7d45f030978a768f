#!/usr/bin/python3
"""auto_bench: `neurond train --auto` beside scikit-learn's GridSearchCV on digits (issue 19).

What and why: issue 19 asks for auto's speed in `make bench`, beside the peers. On the bundled
digits training file (1,437 rows, 64 pixels, 10 classes) and its test file:
  1. the defaults of a user (`--auto --workers 2`: max_seconds 60, the early stop) against
     GridSearchCV over quality.py's grid (4 widths x 3 alphas, 5 folds, n_jobs 2), both behind
     the same preprocessing: wall seconds to a model and its test accuracy;
  2. the worker pool's scaling: the same fixed search (`--max-models 21 --max-seconds 0`, a
     seed: the same work and, asserted here, the same model bytes) with 1 and 2 workers, beside
     GridSearchCV with n_jobs 1 and 2.
Medians of RUNS runs (default 3; AUTO_BENCH_RUNS). Output: human lines, and `RESULT key value`
lines appended to $BENCH_RESULTS (bench/summary.py). Needs python3-sklearn and pandas
(scripts/deps.sh bench installs them), as quality.py, whose helpers it uses.
Environment: BIN (the directory of neurond, default bin), BENCH_RESULTS, AUTO_BENCH_RUNS.
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

import quality  # noqa: E402  (bench/: the grid, the preprocessing, neurond_fit)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEUROND = os.path.join(ROOT, os.environ.get("BIN", "bin"), "neurond")
TRAIN = os.path.join(ROOT, "tests", "data", "digits_train.csv")
TEST = os.path.join(ROOT, "tests", "data", "digits_test.csv")
RUNS = int(os.environ.get("AUTO_BENCH_RUNS", "3"))
RESULTS = os.environ.get("BENCH_RESULTS", "")
FIXED = ["--max-models", "21", "--max-seconds", "0", "--seed", "7"]


def result(key, value):
    if RESULTS:
        with open(RESULTS, "a") as f:
            f.write(f"RESULT {key} {value}\n")


def neurond(args, out):
    """Wall seconds of one `neurond train` and the test accuracy of its model."""
    ev, secs = quality.neurond_fit(NEUROND, args, TRAIN, TEST, out)
    return secs, ev["accuracy"]


def export(path):
    return subprocess.run([NEUROND, "export", path], check=True, capture_output=True).stdout


def grid_runs(jobs):
    """Wall seconds and test accuracy of GridSearchCV (quality.py's grid) with n_jobs=jobs."""
    tr, te = pd.read_csv(TRAIN), pd.read_csv(TEST)
    label = tr.columns[-1]
    X, y = tr.drop(columns=[label]), tr[label].values
    _, models = quality.sk_models(X, False, grid=True)
    g = models["grid"]
    grid = GridSearchCV(g.estimator, g.param_grid, cv=5, n_jobs=jobs, scoring="accuracy")
    secs, accs = [], []
    for _ in range(RUNS):
        t0 = time.time()
        grid.fit(X, y)
        secs.append(time.time() - t0)
        accs.append(accuracy_score(te[label].values, grid.predict(te.drop(columns=[label]))))
    return statistics.median(secs), statistics.median(accs)


def main():
    print("== auto_bench: neurond train --auto beside GridSearchCV on digits "
          "(1,437 rows; medians of %d runs) ==" % RUNS)
    tmp = tempfile.mkdtemp(prefix="auto_bench_")
    runs = [neurond(["--auto", "--workers", "2"], os.path.join(tmp, "a.nrd"))
            for _ in range(RUNS)]
    a_s, a_acc = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print("  auto, the defaults (max_seconds 60, early stop), 2 workers: %.2f s, test accuracy "
          "%.4f" % (a_s, a_acc))
    result("auto_digits_s", "%.3f" % a_s)
    result("auto_digits_acc", "%.4f" % a_acc)
    fixed = {}
    for w in (1, 2):
        out = os.path.join(tmp, "w%d.nrd" % w)
        fixed[w] = statistics.median(neurond(FIXED + ["--auto", "--workers", str(w)], out)[0]
                                     for _ in range(RUNS))
        result("auto_fixed_w%d_s" % w, "%.3f" % fixed[w])
    same = export(os.path.join(tmp, "w1.nrd")) == export(os.path.join(tmp, "w2.nrd"))
    print("  auto, a fixed search (21 candidates x 5 folds, seed 7): 1 worker %.2f s, 2 workers "
          "%.2f s: %.2fx; the same model bytes: %s" % (fixed[1], fixed[2], fixed[1] / fixed[2],
                                                       "yes" if same else "NO"))
    result("auto_fixed_speedup", "%.3f" % (fixed[1] / fixed[2]))
    g2, g1 = grid_runs(2), grid_runs(1)
    print("  GridSearchCV (12 candidates x 5 folds), n_jobs 2: %.2f s, test accuracy %.4f; "
          "n_jobs 1: %.2f s (%.2fx)" % (g2[0], g2[1], g1[0], g1[0] / g2[0]))
    result("grid_digits_s", "%.3f" % g2[0])
    result("grid_digits_acc", "%.4f" % g2[1])
    result("grid_j1_s", "%.3f" % g1[0])
    print("  auto's wall time against the grid's: %.2fx (lower is faster); accuracy %+.4f" %
          (a_s / g2[0], a_acc - g2[1]))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
