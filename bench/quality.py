#!/usr/bin/python3
"""make quality: neurond's defaults against scikit-learn on every bundled data set.

For each set (train and test files joined: the whole file), 5 seeded stratified 80/20 splits;
on each split scikit-learn's LogisticRegression and MLPClassifier((64,)) (LinearRegression and
MLPRegressor for regression), both behind median imputation with missing indicators, one-hot
and standardisation, and `neurond train` with no parameter but the file, then `neurond eval`.
Prints one row per set: the mean accuracy (RMSE for regression) of LR, MLP and neurond, each
with its mean wall seconds of one training, and neurond's difference to the better
scikit-learn model (positive: neurond is better).

--auto (make quality AUTO=1; about 15 minutes on 2 cores) adds, on the same splits: scikit-learn's
GridSearchCV over the MLP (hidden (16,), (64,), (256,), (64, 64) x alpha 1e-4, 1e-2, 1; 5
folds; n_jobs = the cores) and `neurond train --auto --max-seconds 60 --workers <cores>`, the
mean wall seconds of every model, auto's difference to the best of LR, MLP and the grid, and
its time against the grid's; then the spam model (SpamAssassin training set, `neurond split`
80/20 seed 42) with defaults and with auto: accuracy, AUC and training seconds.
--seed N passes --seed N to every neurond training (the splits stay the same); --peer-seed N
is scikit-learn's MLP random_state (default 0), in the grid too.
Usage: bench/quality.py [BIN] [SET ...] [--auto] [--auto-seconds S] [--splits N] [--seed N]
       [--peer-seed N]
"""
import argparse
import json
import lzma
import os
import subprocess
import tempfile
import time
import warnings

# scikit-learn's convergence warnings, in this process and in GridSearchCV's worker processes
os.environ.setdefault("PYTHONWARNINGS", "ignore")
warnings.simplefilter("ignore")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, mean_squared_error  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit, ShuffleSplit  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
NA = ["NA", "NaN", "nan", "<NA>", "N/A", "null", "NULL", "None", "?", "#N/A", ""]
# (name, files, label or None = last column, regression)
SETS = [
    ("iris", ["iris_train.csv", "iris_test.csv"], None, False),
    ("wine", ["wine_train.csv", "wine_test.csv"], None, False),
    ("breast_cancer", ["breast_cancer_train.csv", "breast_cancer_test.csv"], None, False),
    ("digits", ["digits_train.csv", "digits_test.csv"], None, False),
    ("moons", ["moons_train.csv", "moons_test.csv"], None, False),
    ("diabetes", ["diabetes_train.csv", "diabetes_test.csv"], None, True),
    ("iris_r_na", ["iris_r_na.csv"], "species", False),
    ("breast_cancer_pandas_na", ["breast_cancer_pandas_na.csv"], "diagnosis", False),
    ("airquality_r_na", ["airquality_r_na.csv"], "Temp", True),
]
SPLITS = 5
# GridSearchCV's grid over the MLP (issue 19)
GRID = {"mlp__hidden_layer_sizes": [(16,), (64,), (256,), (64, 64)], "mlp__alpha": [1e-4, 1e-2, 1.0]}
CORES = os.cpu_count() or 1


def load(files):
    frames = [pd.read_csv(os.path.join(DATA, f), na_values=NA, keep_default_na=True,
                          dtype=str) for f in files]
    return pd.concat(frames, ignore_index=True)


def sk_models(X, regression, grid=False, peer_seed=0):
    num = [c for c in X.columns if pd.to_numeric(X[c], errors="coerce").notna().sum() ==
           X[c].notna().sum()]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                              StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__",
                                            add_indicator=False),
                              OneHotEncoder(handle_unknown="ignore")), cat)])
    mlp = MLPRegressor if regression else MLPClassifier
    models = {"LR": make_pipeline(pre, LinearRegression() if regression else
                                  LogisticRegression(max_iter=2000)),
              "MLP": make_pipeline(pre, mlp((64,), max_iter=500,
                                                random_state=peer_seed))}
    if grid:
        # the preprocessing is refitted inside each fold, as neurond's auto does
        pipe = Pipeline([("pre", clone(pre)), ("mlp", mlp(max_iter=500, random_state=peer_seed))])
        models["grid"] = GridSearchCV(pipe, GRID, cv=5, n_jobs=CORES,
                                      scoring="neg_root_mean_squared_error" if regression else
                                      "accuracy")
    return num, models


def drop_ids(df, label):
    """The columns a row id or an index: what neurond ignores too (first-column row names)."""
    keep = [c for c in df.columns if not (c == "" or c.startswith("Unnamed"))]
    return df[keep]


def neurond_fit(bin_, args, trp, tep, mp):
    """`neurond train` (timed) then `neurond eval --json`; returns (eval JSON, wall seconds)."""
    t0 = time.time()
    subprocess.run([bin_, "train", trp, "-o", mp, "--quiet"] + args, check=True,
                   capture_output=True)
    secs = time.time() - t0
    ev = json.loads(subprocess.run([bin_, "eval", mp, tep, "--json"], check=True,
                                   capture_output=True, text=True).stdout)
    return ev, secs


def better(regression, a, b):
    """The signed difference a - b, positive when a is the better (RMSE: lower)."""
    return b - a if regression else a - b


def run_set(bin_, name, files, label, regression, tmp, opts):
    """The set's mean score and mean wall seconds per model over the splits."""
    df = drop_ids(load(files), label)
    label = label or df.columns[-1]
    y = df[label].values
    X = df.drop(columns=[label])
    num, models = sk_models(X, regression, grid=opts.auto, peer_seed=opts.peer_seed)
    for c in num:
        X[c] = pd.to_numeric(X[c])
    split = (ShuffleSplit(opts.splits, test_size=0.2, random_state=0) if regression else
             StratifiedShuffleSplit(opts.splits, test_size=0.2, random_state=0))
    raw = load(files)
    names = list(models) + ["neurond"] + (["auto"] if opts.auto else [])
    scores = {k: [] for k in names}
    secs = {k: [] for k in names}
    given = ["--label", label] if label != raw.columns[-1] else []
    if opts.seed is not None:
        given += ["--seed", str(opts.seed)]
    test_rows = 0
    for k, (tr, te) in enumerate(split.split(X, y)):
        test_rows = len(te)
        for mname, model in models.items():
            yt = y[tr].astype(float) if regression else y[tr]
            t0 = time.time()
            model.fit(X.iloc[tr], yt)
            secs[mname].append(time.time() - t0)
            p = model.predict(X.iloc[te])
            scores[mname].append(
                mean_squared_error(y[te].astype(float), p) ** 0.5 if regression else
                accuracy_score(y[te], p))
        trp, tep, mp = (os.path.join(tmp, "%s_%d_%s" % (name, k, s)) for s in
                        ("train.csv", "test.csv", "model.nrd"))
        raw.iloc[tr].to_csv(trp, index=False, na_rep="NA")
        raw.iloc[te].to_csv(tep, index=False, na_rep="NA")
        runs = [("neurond", given)]
        if opts.auto:
            runs.append(("auto", given + ["--auto", "--max-seconds", str(opts.auto_seconds),
                                          "--workers", str(CORES)]))
        for mname, args in runs:
            ev, t = neurond_fit(bin_, args, trp, tep, mp)
            scores[mname].append(ev["rmse"] if regression else ev["accuracy"])
            secs[mname].append(t)
    m = {k: float(np.mean(v)) for k, v in scores.items()}
    t = {k: float(np.mean(v)) for k, v in secs.items()}
    return m, t, test_rows


def spam_rows(tmp, bin_, opts):
    """The spam model with defaults and with auto, on the SpamAssassin training set split
    80/20 by `neurond split --seed 42` (as tests/api/test_spam.py): one printed line each."""
    full = os.path.join(tmp, "spam_all.csv")
    with lzma.open(os.path.join(DATA, "spamassassin_train.csv.xz")) as src, open(full, "wb") as dst:
        dst.write(src.read())
    trp, tep = os.path.join(tmp, "spam_train.csv"), os.path.join(tmp, "spam_test.csv")
    subprocess.run([bin_, "split", full, trp, tep, "--test", "0.2", "--seed", "42"], check=True,
                   capture_output=True)
    print("\nspam (SpamAssassin training set, neurond split --test 0.2 --seed 42; test rows "
          "scored by neurond eval)")
    print("%-10s %9s %9s %9s" % ("model", "accuracy", "auc", "train_s"))
    for mname, args in (("default", []), ("auto", ["--auto", "--max-seconds",
                                                    str(opts.auto_seconds), "--workers",
                                                    str(CORES)])):
        ev, t = neurond_fit(bin_, args, trp, tep, os.path.join(tmp, "spam_%s.nrd" % mname))
        print("%-10s %9.4f %9.4f %9.2f" % (mname, ev["accuracy"], ev["auc"], t), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin", nargs="?", default=os.path.join(ROOT, "bin", "neurond"))
    ap.add_argument("sets", nargs="*", help="only these sets (default: all)")
    ap.add_argument("--auto", action="store_true",
                    default=os.environ.get("QUALITY_AUTO", "") not in ("", "0"),
                    help="add GridSearchCV and neurond's auto (and the spam model); slow")
    ap.add_argument("--auto-seconds", type=float, default=60, help="auto's max_seconds")
    ap.add_argument("--splits", type=int, default=SPLITS, help="seeded 80/20 splits per set")
    ap.add_argument("--seed", type=int, default=None,
                    help="neurond's seed (default: its own, 42): how much a figure owes to it")
    ap.add_argument("--peer-seed", type=int, default=0,
                    help="scikit-learn's MLP random_state, also in the grid (default 0): how much "
                    "a peer's figure owes to it")
    opts = ap.parse_args()
    only = set(opts.sets)
    cols = ["LR", "MLP"] + (["grid"] if opts.auto else []) + ["neurond"] + \
        (["auto"] if opts.auto else [])
    if opts.auto:
        print("GridSearchCV: %s, 5 folds, n_jobs %d; auto: --max-seconds %g --workers %d; "
              "%d splits; s = mean wall seconds of a training" % (
                  GRID, CORES, opts.auto_seconds, CORES, opts.splits))
    print("%-24s %-8s " % ("set", "metric") + " ".join("%8s %7s" % (c, "s") for c in cols) +
          " %8s" % "diff" + (" %9s %7s" % ("auto_diff", "a/grid") if opts.auto else ""))
    worse = 0
    losses, slower, done = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, files, label, regression in SETS:
            if only and name not in only:
                continue
            if not all(os.path.exists(os.path.join(DATA, f)) for f in files):
                continue
            m, t, test_rows = run_set(opts.bin, name, files, label, regression, tmp, opts)
            diff = better(regression, m["neurond"], (min if regression else max)(m["LR"], m["MLP"]))
            worse += diff < 0
            line = "%-24s %-8s " % (name, "rmse" if regression else "accuracy") + " ".join(
                "%8.4f %7.2f" % (m[c], t[c]) for c in cols) + " %+8.4f" % diff
            if opts.auto:
                peers = ["LR", "MLP", "grid"]
                best = (min if regression else max)(peers, key=lambda c: m[c])
                adiff = better(regression, m["auto"], m[best])
                line += " %+9.4f %7.2f" % (adiff, t["auto"] / t["grid"])
                done += 1
                if adiff < 0:
                    losses.append("%s: %s %.4f against %s's %.4f (%s)" % (
                        name, "rmse" if regression else "accuracy", m["auto"], best, m[best],
                        "%.1f test rows of %d" % (-adiff * test_rows, test_rows)
                        if not regression else "%.2f%% higher" % (-adiff / m[best] * 100)))
                if t["auto"] >= t["grid"]:
                    slower.append("%s (%.1f s against %.1f s)" % (name, t["auto"], t["grid"]))
            print(line, flush=True)
        print("quality: neurond >= the better scikit-learn model on %s" %
              ("every set" if worse == 0 else "all but %d set(s)" % worse))
        if opts.auto:
            print("auto: >= the best of LR, MLP and GridSearchCV on %d of %d sets%s" % (
                done - len(losses), done, "; behind on " + "; ".join(losses) if losses else ""))
            print("auto: less wall time than GridSearchCV on %d of %d sets%s" % (
                done - len(slower), done, "; slower on " + ", ".join(slower) if slower else ""))
            if not only or "spam" in only:
                spam_rows(tmp, opts.bin, opts)


if __name__ == "__main__":
    main()
