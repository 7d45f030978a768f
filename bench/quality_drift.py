#!/usr/bin/python3
"""make quality-drift (and the end of make quality): learning from feedback under a drift.

The SpamAssassin training set (tests/data/spamassassin_train.csv.xz) is split, with seeds,
into a held-out test fifth and a pool; the pool into halves A and B; A into A_tr (80%) and
A_va (20%). The spam model is trained on A_tr with default parameters. Then B arrives as mail
does, 200 messages at a time: the messages of each batch the serving model gets wrong are fed
back (with their true label), and the model is retrained from all the feedback so far with
`neurond learn` — a warm start from the serving model, a replay sample of A_tr, and the
champion/challenger gate on the feedback's holdout share and A_va — exactly what
POST /models/<name>/retrain does in the daemon. A retrained model serves only if the gate
passes it. After each retrain: accuracy and ROC AUC on the held-out test fifth (never trained
on, never fed back), and the retrain's cost. At the end, a full retrain from scratch on the
union (A_tr and every message fed back), for comparison.

Times are CPU seconds (user + system) of the command, so that other load on the machine
does not count; wall seconds are printed too. The checks: a warm retrain takes under 25% of
the full retrain's CPU time (the mean over the retrains), and the last served model's accuracy
is within 0.3 points of the full retrain's.
Usage: bench/quality_drift.py [BIN [LEARN_OPTION ...]] (options passed to every `neurond learn`,
e.g. --epochs 10, to try other settings than the defaults)
"""
import csv
import json
import lzma
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "spamassassin_train.csv.xz")
BATCH = 200
csv.field_size_limit(1 << 30)


def run(bin_, *args):
    """Runs neurond; returns (completed process, CPU seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    p = subprocess.run([bin_] + [str(a) for a in args], capture_output=True, text=True)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, cpu, wall


def check(p, what):
    if p.returncode != 0:
        sys.exit("quality_drift: %s failed: %s" % (what, p.stderr.strip()))


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        for r in rows:
            w.writerow([r["text"], r["label"]])


def evaluate(bin_, model, test):
    p, _, _ = run(bin_, "eval", model, test, "--json")
    check(p, "eval")
    ev = json.loads(p.stdout)
    return ev["accuracy"], ev["auc"]


def main():
    bin_ = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bin", "neurond")
    learn_args = sys.argv[2:]
    with tempfile.TemporaryDirectory() as d:
        j = lambda n: os.path.join(d, n)
        with lzma.open(DATA) as src, open(j("all.csv"), "wb") as dst:
            dst.write(src.read())
        for args in (("all.csv", "pool.csv", "test.csv", "0.2", "42"),
                     ("pool.csv", "A.csv", "B.csv", "0.5", "7"),
                     ("A.csv", "A_tr.csv", "A_va.csv", "0.2", "8")):
            check(run(bin_, "split", j(args[0]), j(args[1]), j(args[2]), "--test", args[3],
                      "--seed", args[4])[0], "split")
        a_tr, b = read_rows(j("A_tr.csv")), read_rows(j("B.csv"))
        p, cpu, wall = run(bin_, "train", j("A_tr.csv"), "-o", j("m0.nrd"), "-q")
        check(p, "train")
        acc, auc = evaluate(bin_, j("m0.nrd"), j("test.csv"))
        print("drift: SpamAssassin training set: base on %d rows (A_tr), %d arriving (B) in batches "
              "of %d, %d held out" % (len(a_tr), len(b), BATCH, len(read_rows(j("test.csv")))))
        print("%-6s %6s %6s %9s %9s %8s %8s %8s" % ("batch", "wrong", "fed", "promoted", "cpu_s",
                                                   "wall_s", "accuracy", "auc"))
        print("%-6s %6s %6s %9s %9.2f %8.2f %8.4f %8.4f" % ("base", "-", "-", "-", cpu, wall, acc,
                                                           auc))
        serving, fed, warm_cpu, k = j("m0.nrd"), [], [], 0
        for start in range(0, len(b), BATCH):
            batch = b[start:start + BATCH]
            write_rows(j("batch.csv"), batch)
            p, _, _ = run(bin_, "predict", serving, j("batch.csv"))
            check(p, "predict")
            wrong = [r for r in csv.DictReader(p.stdout.splitlines(True)) if r["prediction"] != r["label"]]
            if not wrong:
                print("%-6d %6d %6d %9s" % (start // BATCH + 1, 0, len(fed), "-"))
                continue
            fed += wrong
            write_rows(j("feedback.csv"), fed)
            k += 1
            out = j("m%d.nrd" % k)
            p, cpu, wall = run(bin_, "learn", serving, j("feedback.csv"), "-o", out, "-q",
                               "--replay", j("A_tr.csv"), "--holdout", j("A_va.csv"), *learn_args)
            if p.returncode not in (0, 1) or not p.stdout:
                check(p, "learn")
            promoted = json.loads(p.stdout)["gate"]["promoted"]
            warm_cpu.append(cpu)
            if promoted:
                serving = out
            acc, auc = evaluate(bin_, serving, j("test.csv"))
            print("%-6d %6d %6d %9s %9.2f %8.2f %8.4f %8.4f" % (
                start // BATCH + 1, len(wrong), len(fed), "yes" if promoted else "no", cpu, wall,
                acc, auc), flush=True)
        write_rows(j("union.csv"), a_tr + fed)
        p, full_cpu, full_wall = run(bin_, "train", j("union.csv"), "-o", j("full.nrd"), "-q")
        check(p, "train (full)")
        full_acc, full_auc = evaluate(bin_, j("full.nrd"), j("test.csv"))
        print("%-6s %6s %6d %9s %9.2f %8.2f %8.4f %8.4f" % ("full", "-", len(fed), "-", full_cpu,
                                                           full_wall, full_acc, full_auc))
        mean_warm = sum(warm_cpu) / len(warm_cpu) if warm_cpu else 0.0
        ratio = mean_warm / full_cpu if full_cpu > 0 else 0.0
        gap = (full_acc - acc) * 100
        print("drift: a warm retrain took %.2f CPU s on average, %.0f%% of the full retrain's "
              "%.2f s (target < 25%%): %s" % (mean_warm, 100 * ratio, full_cpu,
                                              "ok" if ratio < 0.25 else "MISSED"))
        print("drift: the served model's accuracy %.2f%% vs the full retrain's %.2f%%: %.2f points "
              "behind (target <= 0.3): %s" % (100 * acc, 100 * full_acc, gap,
                                              "ok" if gap <= 0.3 else "MISSED"))


if __name__ == "__main__":
    main()
