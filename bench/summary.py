#!/usr/bin/env python3
"""summary: the table that ends `make bench` — neurond beside its peers and ceilings, as ratios.

What and why: issue 9 asks `make bench` to show, in one run on one machine, each figure beside
what it is compared with, as a ratio against its target. The benchmarks (bench_nn, the peers in
bench/peers/, system_bench.py) append `RESULT key value` lines to one file; this reads it and
prints one row a figure: what, neurond, the other side, the ratio, the target and whether this
run met it. A figure that is missing (a peer not installed, an endpoint not there yet) prints
"n/a" and the row says why it is missing; nothing here fails.
Usage: summary.py RESULTS_FILE
"""
import sys


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def load(path):
    r = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split(" ", 2)
                if len(parts) == 3 and parts[0] == "RESULT":
                    r[parts[1]] = parts[2]
    except OSError:
        pass
    return r


def num(r, key):
    try:
        return float(r[key])
    except (KeyError, ValueError):
        return None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


ROWS = []


def row(what, ours, other, ratio, target, met):
    verdict = "" if met is None else ("met" if met else "NOT MET")
    ROWS.append((what, ours, other, ratio, target, verdict))


def ratio_row(what, ours, other, other_name, goal, unit="", lower_better=False):
    """ours / other (other / ours when lower is better) against goal (a factor)."""
    if ours is None or other is None or other == 0 or ours == 0:
        row(what, fmt(ours, unit), f"{other_name} {fmt(other, unit)}", "n/a",
            f">= {goal:g}x" if goal else "", None)
        return
    q = other / ours if lower_better else ours / other
    row(what, fmt(ours, unit), f"{other_name} {fmt(other, unit)}",
        f"{q:.2f}x" if q < 10 else f"{q:.1f}x", f">= {goal:g}x" if goal else "",
        (q >= goal) if goal else None)


def main():
    r = load(sys.argv[1] if len(sys.argv) > 1 else "build/bench/results.txt")
    nat = "native_" if "native_blas_core" in r else ""
    print("== summary: neurond beside its peers (one run, this machine; wall-clock medians) ==")
    print(f"machine: {r.get('cpu_model', 'unknown')}, {r.get('cores', '?')} cores; OpenBLAS "
          f"core {r.get('blas_core', '?')}"
          + (f" (forced by OPENBLAS_CORETYPE); without it: {r['native_blas_core']}" if nat else
             "") + "; 1 BLAS thread")
    if "load_start" in r:
        print(f"load average (1, 5, 15 min) at start: {r['load_start']}; at the end: "
              f"{loadavg()} (above the core count, other work shared the machine: the CPU-time "
              "rows are the steadier figures)")
    print(f"peers: PyTorch {r.get('torch_version', 'missing')} (1 thread), scikit-learn "
          f"{r.get('sklearn_version', 'missing')}, FANN "
          f"{'2.2' if 'train_a_fann_rows_s' in r else 'missing'}")
    # 1. training
    for c, label, goal in (("a", "1a train rows/s 57-64-1 sgd b32", 5.0),
                           ("b", "1b train rows/s 784-128-10 adam b64", 1.0)):
        ours = num(r, f"train_{c}_neurond_rows_s")
        ratio_row(label, ours, num(r, f"train_{c}_torch_rows_s"), "PyTorch", goal)
        ratio_row("     CPU-time rows/s", num(r, f"train_{c}_neurond_cpu_rows_s"),
                  num(r, f"train_{c}_torch_cpu_rows_s"), "PyTorch", goal)
        ratio_row("", ours, num(r, f"train_{c}_sklearn_rows_s"), "sklearn", 0)
        if c == "a":
            ratio_row("", ours, num(r, "train_a_fann_rows_s"), "FANN", 0)
        if nat and c == "b":
            ratio_row("   with the machine's own kernel", num(r, "native_train_b_neurond_rows_s"),
                      num(r, "train_b_torch_rows_s"), "PyTorch", goal)
    # 2. products
    for p in ("", nat) if nat else ("",):
        for c in ("a", "b"):
            ins, alone = num(r, f"{p}gemm_{c}_train_gflops"), num(r, f"{p}gemm_{c}_alone_gflops")
            ratio_row(f"2{c} sgemm GFLOP/s in training" + (" (native)" if p else ""), ins, alone,
                      "alone", 0.5)
    # 3. prediction
    ns = num(r, "predict_row_ns")
    row("3  predict 1 row (a), ns", fmt(ns), f"CPU {fmt(num(r, 'predict_row_cpu_ns'))}", "",
        "<= 200 ns", None if ns is None else ns <= 200)
    cns = num(r, "predict_row_cpu_ns")
    row("     CPU ns", fmt(cns), "", "", "<= 200 ns", None if cns is None else cns <= 200)
    row("3  predict 1,000-row batches, rows/s", fmt(num(r, "predict_batch_rows_s")), "", "", "",
        None)
    us = num(r, "explain_row_us")
    row("3  explain 1 row (a), us", fmt(us), f"CPU {fmt(num(r, 'explain_row_cpu_us'))}", "",
        "<= 20 us", None if us is None else us <= 20)
    # 4. HTTP
    ratio_row("4  POST /predict 1 row, req/s", num(r, "http_neurond_rps"),
              num(r, "http_empty_rps"), "empty MHD", 0.7)
    ratio_row("", num(r, "http_neurond_rps"), num(r, "http_flask_rps"), "Flask", 20.0)
    cn, ce = num(r, "http_neurond_cpu_us"), num(r, "http_empty_cpu_us")
    ratio_row("   server CPU us a request", cn, ce, "empty MHD", 0.7, lower_better=True)
    ratio_row("", cn, num(r, "http_flask_cpu_us"), "Flask", 20.0, lower_better=True)
    p99 = num(r, "http_neurond_p99_ms")
    row("   p50 / p99 ms", f"{fmt(num(r, 'http_neurond_p50_ms'))} / {fmt(p99)}",
        f"empty {fmt(num(r, 'http_empty_p50_ms'))} / {fmt(num(r, 'http_empty_p99_ms'))}", "",
        "p99 < 5 ms", None if p99 is None else p99 < 5.0)
    row("", "", f"Flask {fmt(num(r, 'http_flask_p50_ms'))} / {fmt(num(r, 'http_flask_p99_ms'))}",
        "", "", None)
    errs = num(r, "http_neurond_errors")
    if errs is not None:  # req/s of failed requests is no figure: say so beside it
        row("   failed or non-2xx requests", f"{errs:.0f}", "", "", "0", errs == 0)
    ratio_row("4  POST /predict 1 row + explain, req/s", num(r, "http_neurond_explain_rps"),
              num(r, "http_neurond_rps"), "without", 0.3)
    ratio_row("   server CPU us a request", num(r, "http_neurond_explain_cpu_us"),
              num(r, "http_neurond_cpu_us"), "without", 0.3, lower_better=True)
    row("4  POST /predict 1,000 rows, rows/s", fmt(num(r, "http_batch_rows_s")),
        f"in-process {fmt(num(r, 'predict_batch_rows_s'))}", "", "", None)
    if r.get("spam_score_available") == "0":
        row("4  POST /spam-score 5 KB, msg/s", "n/a (no endpoint)", "", "", "", None)
    else:
        row("4  POST /spam-score 5 KB, msg/s", fmt(num(r, "spam_score_rps")),
            f"p99 {fmt(num(r, 'spam_score_p99_ms'), ' ms')}", "", "", None)
        ratio_row("   with explain, msg/s", num(r, "spam_score_explain_rps"),
                  num(r, "spam_score_rps"), "without", 0.25)
    # 4c. ONNX (bench/onnx_bench.py): an imported PyTorch MLP served like neurond's own
    ratio_row("4c POST /predict imported PyTorch MLP", num(r, "onnx_http_pt_rps"),
              num(r, "onnx_http_nd_rps"), "same by neurond", 0.8)
    ratio_row("   server CPU us a request", num(r, "onnx_http_pt_cpu_us"),
              num(r, "onnx_http_nd_cpu_us"), "same by neurond", 0.8, lower_better=True)
    us = num(r, "onnx_ort_pt_us")
    row("   ONNX Runtime in process, us a row", fmt(us), "node, 1 row a call", "", "", None)
    # 4d. auto (bench/auto_bench.py): a search against GridSearchCV on digits
    ratio_row("4d auto on digits, s to a model", num(r, "auto_digits_s"), num(r, "grid_digits_s"),
              "GridSearchCV", 1.0, lower_better=True)
    acc, gacc = num(r, "auto_digits_acc"), num(r, "grid_digits_acc")
    row("   test accuracy", "n/a" if acc is None else f"{acc:.4f}",
        "GridSearchCV " + ("n/a" if gacc is None else f"{gacc:.4f}"), "", "", None)
    ratio_row("   fixed search, 2 workers against 1", num(r, "auto_fixed_w2_s"),
              num(r, "auto_fixed_w1_s"), "1 worker", 1.5, unit=" s", lower_better=True)
    # 5. spam training
    w = num(r, "spam_train_wall_s")
    row("5  train spam model (defaults), s", fmt(w), f"CPU {fmt(num(r, 'spam_train_cpu_s'))} s",
        f"accuracy {fmt(num(r, 'spam_train_accuracy'))}", "< 30 s", None if w is None else w < 30)
    # 6. memory
    kb = num(r, "mem_idle_kb")
    row("6  RSS idle daemon, MiB", fmt(kb / 1024 if kb else None), "", "", "", None)
    kb = num(r, "mem_100_models_kb")
    row("6  RSS with 100 models, MiB", fmt(kb / 1024 if kb else None), "", "", "", None)
    pk, size = num(r, "mem_train_peak_kb"), num(r, "mem_train_file_bytes")
    q = pk * 1024 / size if pk and size else None
    row("6  peak RSS training 200 MB CSV, MiB", fmt(pk / 1024 if pk else None),
        f"file {fmt(size / 2**20 if size else None)}", "n/a" if q is None else f"{q:.2f}x file",
        "< 3x file", None if q is None else q < 3)
    widths = [max(len(x[i]) for x in ROWS + [("figure", "neurond", "beside", "ratio", "target",
                                               "this run")]) for i in range(6)]
    head = ("figure", "neurond", "beside", "ratio", "target", "this run")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    print("  ".join("-" * w for w in widths))
    for x in ROWS:
        print("  ".join(v.ljust(w) for v, w in zip(x, widths)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
