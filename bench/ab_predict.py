#!/usr/bin/env python3
"""ab_predict: compares two neurond binaries on POST /predict — same replies, and CPU per request.

What and why: an optimisation of the prediction path must not change a single byte of what
clients get, and on a shared 2-core machine only figures taken in the same run, interleaved, can
be compared. This trains network (a) and a mixed model (numeric, categorical, text, missing
values) once with the OLD binary, copies its database for each binary, sends the same 29
requests (arrays, objects, nulls, bools, strings, out-of-range numbers, errors) to both and
compares the replies byte for byte, then runs wrk against both, interleaved, and prints the
medians of req/s and of the daemon's CPU microseconds per request (one row, 64 connections;
1,000-row batches, 8 connections). Used for the figures in docs/performance.md.
Usage: python3 bench/ab_predict.py OLD_BINARY NEW_BINARY [ROUNDS [SECONDS]]   (from the repo root)
Exit status: 1 when a reply differs.
"""
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import system_bench as s  # noqa: E402


def requests():
    rnd = random.Random(9)
    reqs = [s.row_body(1, seed=k) for k in range(20)] + [s.row_body(1000, seed=99)]
    reqs.append(json.dumps({"model": "a", "instances": [
        {f"f{j}": rnd.uniform(-3, 3) for j in range(57)} for _ in range(5)]}))
    reqs.append(json.dumps({"model": "a", "instances": [
        [1e300] * 57, [-0.0] * 57, [123456789012345678] * 57, [0.1] * 56 + ["0.1"]]}))
    reqs.append(json.dumps({"model": "a", "instances": [[0.5] * 56 + [None]]}))
    reqs.append(json.dumps({"model": "a", "instances": [[0.5] * 56 + [True]]}))
    reqs.append(json.dumps({"model": "a", "instances": [[0.5] * 56]}))
    reqs.append(json.dumps({"model": "mix", "instances": [
        {"x": 1.25, "y": 3, "color": "red", "note": "word3 foo"}, [-2, 1e5, "blue", "x"],
        [0.1, None, None, None], {"x": 2, "y": "abc", "color": "red", "note": ""}]}))
    reqs.append(json.dumps({"model": "mix", "instances": [
        {"x": 1.25, "y": 3, "color": 7, "note": 12.5}]}))
    reqs.append('{"model":"a","instances":[[1e400' + ",0.5" * 56 + "]]}")
    return reqs


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[-2])
        return 2
    old, new = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    secs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    w = tempfile.mkdtemp(prefix="neurond-ab-")
    try:
        csvp = os.path.join(w, "a.csv")
        s.make_csv(csvp)
        rnd = random.Random(1)
        with open(os.path.join(w, "mix.csv"), "w") as f:
            f.write("x,y,color,note,label\n")
            for _ in range(400):
                x, y = rnd.uniform(-5, 5), rnd.uniform(0, 1e6)
                f.write(f"{x:.5f},{y:.1f},{rnd.choice(['red', 'blue', 'green'])},"
                        f"word{rnd.randint(0, 9)} foo,{'a' if x > 0 else 'b'}\n")
        s.NEUROND = old
        p, port = s.start_daemon(w, "ab.db")
        if p is None or not s.train_model(port, csvp, "a"):
            print("ab_predict: cannot start the old daemon or train model (a)")
            return 2
        with open(os.path.join(w, "mix.csv"), "rb") as f:
            st, b = s.http(port, "POST", "/train?model=mix&epochs=5", f.read(), "text/csv")
        job = json.loads(b)["id"]
        while json.loads(s.http(port, "GET", f"/jobs/{job}")[1])["status"] in ("queued",
                                                                                "running"):
            time.sleep(0.1)
        s.stop(p)
        reqs = requests()
        daemons, replies = {}, {}
        for k, exe in (("old", old), ("new", new)):
            shutil.copy(os.path.join(w, "ab.db"), os.path.join(w, k + ".db"))
            s.NEUROND = exe
            daemons[k] = s.start_daemon(w, k + ".db")
            replies[k] = [s.http(daemons[k][1], "POST", "/predict", r) for r in reqs]
        same = sum(a == b for a, b in zip(replies["old"], replies["new"]))
        print(f"identical replies: {same} of {len(reqs)}")
        for a, b in zip(replies["old"], replies["new"]):
            if a != b:
                print(f"  differs: old {a[0]} {a[1][:200]!r}\n           new {b[0]} {b[1][:200]!r}")
        res = {k: {"one": [], "cpu1": [], "batch": [], "cpub": []} for k in daemons}
        for _ in range(rounds):
            for k, (p, port) in daemons.items():
                url = f"http://127.0.0.1:{port}/predict"
                c0 = s.cpu_of(p.pid)
                r = s.wrk(w, url, reqs[0], seconds=secs)
                res[k]["one"].append(r["rps"])
                res[k]["cpu1"].append((s.cpu_of(p.pid) - c0) / r["requests"] * 1e6)
                c0 = s.cpu_of(p.pid)
                r = s.wrk(w, url, reqs[20], seconds=secs, conns=8)
                res[k]["batch"].append(r["rps"] * 1000)
                res[k]["cpub"].append((s.cpu_of(p.pid) - c0) / r["requests"] * 1e6)
        for k, (p, port) in daemons.items():
            s.stop(p)
            m = {x: statistics.median(v) for x, v in res[k].items()}
            print(f"{k}: 1 row {m['one']:.0f} req/s, daemon CPU {m['cpu1']:.1f} us a request; "
                  f"1,000-row batches {m['batch']:.0f} rows/s, daemon CPU {m['cpub']:.0f} us a "
                  f"request (medians of {rounds} x {secs} s)")
        return 0 if same == len(reqs) else 1
    finally:
        for p in s.STARTED:
            s.stop(p)
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
