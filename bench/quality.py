#!/usr/bin/python3
"""make quality: neurond's defaults against scikit-learn on every bundled data set.

For each set (train and test files joined: the whole file), 5 seeded stratified 80/20 splits;
on each split scikit-learn's LogisticRegression and MLPClassifier((64,)) (LinearRegression and
MLPRegressor for regression), both behind median imputation with missing indicators, one-hot
and standardisation, and `neurond train` with no parameter but the file, then `neurond eval`.
Prints one row per set: the mean accuracy (RMSE for regression) of LR, MLP and neurond, the
difference to the better scikit-learn model (positive: neurond is better) and neurond's mean
training seconds. Usage: bench/quality.py [BIN] [SET ...]
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import KFold, StratifiedShuffleSplit, ShuffleSplit
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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


def load(files):
    frames = [pd.read_csv(os.path.join(DATA, f), na_values=NA, keep_default_na=True,
                          dtype=str) for f in files]
    return pd.concat(frames, ignore_index=True)


def sk_models(X, regression):
    num = [c for c in X.columns if pd.to_numeric(X[c], errors="coerce").notna().sum() ==
           X[c].notna().sum()]
    cat = [c for c in X.columns if c not in num]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                              StandardScaler()), num),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="__missing__",
                                            add_indicator=False),
                              OneHotEncoder(handle_unknown="ignore")), cat)])
    if regression:
        return num, {"LR": make_pipeline(pre, LinearRegression()),
                     "MLP": make_pipeline(pre, MLPRegressor((64,), max_iter=500, random_state=0))}
    return num, {"LR": make_pipeline(pre, LogisticRegression(max_iter=2000)),
                 "MLP": make_pipeline(pre, MLPClassifier((64,), max_iter=500, random_state=0))}


def drop_ids(df, label):
    """The columns a row id or an index: what neurond ignores too (first-column row names)."""
    keep = [c for c in df.columns if not (c == "" or c.startswith("Unnamed"))]
    return df[keep]


def run_set(bin_, name, files, label, regression, tmp):
    df = drop_ids(load(files), label)
    label = label or df.columns[-1]
    y = df[label].values
    X = df.drop(columns=[label])
    num, models = sk_models(X, regression)
    for c in num:
        X[c] = pd.to_numeric(X[c])
    split = (ShuffleSplit(SPLITS, test_size=0.2, random_state=0) if regression else
             StratifiedShuffleSplit(SPLITS, test_size=0.2, random_state=0))
    raw = load(files)
    scores = {"LR": [], "MLP": [], "neurond": []}
    secs = []
    for k, (tr, te) in enumerate(split.split(X, y)):
        for mname, model in models.items():
            yt = y[tr].astype(float) if regression else y[tr]
            model.fit(X.iloc[tr], yt)
            p = model.predict(X.iloc[te])
            scores[mname].append(
                mean_squared_error(y[te].astype(float), p) ** 0.5 if regression else
                accuracy_score(y[te], p))
        trp, tep, mp = (os.path.join(tmp, "%s_%d_%s" % (name, k, s)) for s in
                        ("train.csv", "test.csv", "model.nrd"))
        raw.iloc[tr].to_csv(trp, index=False, na_rep="NA")
        raw.iloc[te].to_csv(tep, index=False, na_rep="NA")
        t0 = time.time()
        subprocess.run([bin_, "train", trp, "-o", mp, "--quiet"] +
                       (["--label", label] if label != raw.columns[-1] else []),
                       check=True, capture_output=True)
        secs.append(time.time() - t0)
        ev = json.loads(subprocess.run([bin_, "eval", mp, tep, "--json"], check=True,
                                       capture_output=True, text=True).stdout)
        scores["neurond"].append(ev["rmse"] if regression else ev["accuracy"])
    m = {k: float(np.mean(v)) for k, v in scores.items()}
    best = min(m["LR"], m["MLP"]) if regression else max(m["LR"], m["MLP"])
    diff = best - m["neurond"] if regression else m["neurond"] - best
    return m, diff, float(np.mean(secs))


def main():
    bin_ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bin", "neurond")
    only = set(sys.argv[2:])
    print("%-26s %-9s %8s %8s %8s %8s %8s" % ("set", "metric", "LR", "MLP", "neurond", "diff",
                                               "train_s"))
    worse = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, files, label, regression in SETS:
            if only and name not in only:
                continue
            if not all(os.path.exists(os.path.join(DATA, f)) for f in files):
                continue
            m, diff, secs = run_set(bin_, name, files, label, regression, tmp)
            worse += diff < 0
            print("%-26s %-9s %8.4f %8.4f %8.4f %+8.4f %8.2f" % (
                name, "rmse" if regression else "accuracy", m["LR"], m["MLP"], m["neurond"], diff,
                secs), flush=True)
    print("quality: neurond >= the better scikit-learn model on %s" %
          ("every set" if worse == 0 else "all but %d set(s)" % worse))


if __name__ == "__main__":
    main()
