#!/usr/bin/env python3
"""onnx_bench: the ONNX figures of `make bench` (issue 22).

What and why: a network trained elsewhere and imported must be served as fast as neurond's own.
On the bundled wine set (13 numeric columns, 3 classes), in one run on one machine:
  - PyTorch (Debian's python3-torch, 1 thread) trains Sub/Div scaling -> Linear(13, 64) -> ReLU
    -> Linear(64, 3) -> Softmax and writes it with torch.onnx.export (opset 13); the file is
    imported into `bin/neurond serve` (POST /models/pt/import, application/onnx), and its
    predictions checked against PyTorch's on every row (max abs difference printed);
  - neurond trains the same shape on the same file (POST /train hidden=64, relu);
  - wrk POST /predict, one row, 64 connections (system_bench.py's wrk, BENCH_HTTP_SECONDS a
    figure, medians of BENCH_HTTP_RUNS rounds, the two targets interleaved in each round):
    req/s, p50, p99 and the daemon's CPU time a request of both models (they should be equal:
    the same network once imported; the CPU time is the steadier figure on a shared machine);
  - ONNX Runtime's own per-row latency in process, from node (npm onnxruntime-node, installed
    by tests/onnx/setup.sh as the ONNX tests do; tests/onnx/run_ort.mjs's timing: one row at a
    time after a warm-up), on the PyTorch file and on neurond's export of its own model
    (GET /models/nd/export?format=onnx: one input per column).
Output: human lines, and `RESULT key value` lines appended to $BENCH_RESULTS (bench/summary.py).
Whatever cannot run (no torch, no wrk, no node package) says so and the rest goes on.
Environment: as system_bench.py (BIN, BUILD, BENCH_RESULTS, BENCH_HTTP_SECONDS, BENCH_HTTP_RUNS).
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import system_bench as sb  # noqa: E402  (wrk, the daemon, http, RESULT lines)

WINE = os.path.join(ROOT, "tests", "data", "wine_train.csv")
ONNX_DIR = os.path.join(ROOT, "tests", "onnx")
HIDDEN = 64
ORT_ROWS = 20000  # timed runs of one row


def load_wine():
    with open(WINE, newline="") as f:
        rows = list(csv.reader(f))
    head, body = rows[0], rows[1:]
    return head[:-1], [[float(v) for v in r[:-1]] for r in body], [r[-1] for r in body]


def torch_export(work, cols, x, labels):
    """Trains the MLP in PyTorch and exports it; returns (path, classes, probabilities of x)
    or None when torch is missing."""
    try:
        import torch as t
    except ImportError:
        sb.out("  skipped: python3-torch is not installed (scripts/deps.sh bench installs it)")
        return None
    t.set_num_threads(1)
    t.manual_seed(0)
    classes = sorted(set(labels))
    xt = t.tensor(x, dtype=t.float32)
    y = t.tensor([classes.index(v) for v in labels])
    mean, sd = xt.mean(dim=0), xt.std(dim=0)

    class Net(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = t.nn.Linear(len(cols), HIDDEN), t.nn.Linear(HIDDEN, len(classes))
            self.mean, self.sd = mean, sd

        def forward(self, v):
            return t.softmax(self.fc2(t.relu(self.fc1((v - self.mean) / self.sd))), dim=1)

    net = Net()
    opt = t.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        loss = t.nn.functional.nll_loss(t.log(net(xt)), y)
        loss.backward()
        opt.step()
    path = os.path.join(work, "wine_torch.onnx")
    t.onnx.export(net, xt[:1], path, input_names=["input"], output_names=["prob"],
                  dynamic_axes={"input": {0: "batch"}, "prob": {0: "batch"}}, opset_version=13)
    with t.no_grad():
        want = net(xt).numpy().tolist()
    sb.out(f"  PyTorch {t.__version__}: {len(cols)}-{HIDDEN}-{len(classes)} MLP trained on "
           f"{len(x)} rows, exported to ONNX ({os.path.getsize(path)} bytes)")
    return path, classes, want


def ort_ms_per_row(model_path, feeds):
    """ONNX Runtime's mean ms for one row (tests/onnx/run_ort.mjs), or None with the reason."""
    if shutil.which("node") is None:
        return None, "node is not installed (scripts/deps.sh test installs it)"
    rc = subprocess.run([os.path.join(ONNX_DIR, "setup.sh")], capture_output=True,
                        text=True).returncode
    if rc != 0:
        return None, "tests/onnx/setup.sh failed (exit %d): no onnxruntime-node" % rc
    feeds = dict(feeds, __time__=ORT_ROWS)
    p = subprocess.run(["node", os.path.join(ONNX_DIR, "run_ort.mjs"), model_path],
                       input=json.dumps(feeds), capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return None, "run_ort.mjs failed: " + p.stderr.strip()[-300:]
    out = json.loads(p.stdout)
    return out["ms_per_row"], None


def ort_version():
    try:
        with open(os.path.join(ONNX_DIR, "node_modules", "onnxruntime-node", "package.json")) as f:
            return json.load(f)["version"]
    except OSError:
        return "?"


def main():
    sb.out("\n== onnx_bench: an imported PyTorch MLP beside neurond's own, and ONNX Runtime ==")
    if shutil.which("wrk") is None:
        sb.out("  skipped: wrk is not installed (scripts/deps.sh bench installs it)")
        return 0
    work = tempfile.mkdtemp(prefix="neurond-onnx-bench-",
                            dir=sb.BUILD if os.path.isdir(sb.BUILD) else None)
    try:
        cols, x, labels = load_wine()
        exported = torch_export(work, cols, x, labels)
        if exported is None:
            return 0
        path, classes, want = exported
        proc, port = sb.start_daemon(work, "onnx.db")
        if proc is None:
            sb.out(f"  skipped: {sb.NEUROND} serve did not start (see {work}/daemon.log)")
            return 0
        with open(path, "rb") as f:
            st, b = sb.http(port, "POST", "/models/pt/import?inputs=%s&classes=%s" % (
                ",".join(cols), ",".join(classes)), f.read(), "application/onnx")
        if st != 201:
            sb.out(f"  skipped: the import answered {st}: {b[:300]!r}")
            return 0
        st, b = sb.http(port, "POST", "/models/pt/predict", json.dumps(
            {"instances": [dict(zip(cols, r)) for r in x]}))
        got = [[p["probabilities"][c] for c in classes] for p in json.loads(b)["predictions"]]
        diff = max(abs(a - w) for g, wr in zip(got, want) for a, w in zip(g, wr))
        sb.out(f"  imported: POST /models/pt/predict on the {len(x)} rows: max |p - PyTorch's| "
               f"= {diff:.1e}")
        sb.result("onnx_import_max_diff", f"{diff:.2e}")
        with open(WINE, "rb") as f:
            csv_bytes = f.read()
        st, b = sb.http(port, "POST", f"/train?model=nd&hidden={HIDDEN}&activation=relu&seed=1",
                        csv_bytes, "text/csv")
        job = json.loads(b)["id"] if st == 202 else None
        for _ in range(1200):
            if job is None:
                break
            j = json.loads(sb.http(port, "GET", f"/jobs/{job}")[1])
            if j["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        if job is None or j["status"] != "succeeded":
            sb.out(f"  skipped: neurond could not train the same network ({st} {b[:200]!r})")
            return 0
        row = dict(zip(cols, x[0]))
        targets = [(name, f"http://127.0.0.1:{port}/predict",
                    json.dumps({"model": name, "instances": [row]})) for name in ("pt", "nd")]
        for name, url, body in targets:
            st, b = sb.http(port, "POST", "/predict", body)
            if st != 200:
                sb.out(f"  skipped: POST /predict of {name} answered {st}: {b[:200]!r}")
                return 0
        medians = sb.wrk_rounds(work, [(name, url, body, proc, 64) for name, url, body in targets])
        sb.out(f"  POST /predict, 1 row, wrk -t2 -c64, {sb.SECONDS} s a figure, medians of "
               f"{sb.RUNS} rounds:")
        for name, label in (("pt", "PyTorch MLP imported from ONNX"),
                            ("nd", "the same shape trained by neurond")):
            if name not in medians:
                continue
            m = medians[name]
            sb.out(f"    {label}: {m['rps']:.0f} req/s, p50 {m['p50_ms']:.2f} ms, p99 "
                   f"{m['p99_ms']:.2f} ms; server CPU {m['cpu_us']:.1f} us a request"
                   + (f" ({m['errors']} failed)" if m["errors"] else ""))
            sb.result(f"onnx_http_{name}_rps", f"{m['rps']:.0f}")
            sb.result(f"onnx_http_{name}_p50_ms", f"{m['p50_ms']:.3f}")
            sb.result(f"onnx_http_{name}_cpu_us", f"{m['cpu_us']:.1f}")
        # ONNX Runtime in process: the PyTorch file, and neurond's export of its own model
        st, onnx_nd = sb.http(port, "GET", "/models/nd/export?format=onnx")
        nd_path = os.path.join(work, "wine_neurond.onnx")
        with open(nd_path, "wb") as f:
            f.write(onnx_nd)
        cases = [("pt", path, {"input": {"type": "float", "dims": [1, len(cols)], "data": x[0]}},
                  "the PyTorch file"),
                 ("nd", nd_path, {c: {"type": "float", "dims": [1, 1], "data": [v]}
                                  for c, v in zip(cols, x[0])},
                  "neurond's export of its model (one input per column)")]
        sb.out(f"  ONNX Runtime {ort_version()} (onnxruntime-node, CPU) in process, one row at a "
               f"time, mean of {ORT_ROWS} runs after 200 warm-up:")
        for name, model, feeds, label in cases:
            if name == "nd" and st != 200:
                sb.out(f"    {label}: the export answered {st}")
                continue
            ms, why = ort_ms_per_row(model, feeds)
            if ms is None:
                sb.out(f"    skipped: {why}")
                break
            sb.out(f"    {label}: {ms * 1000:.1f} us a row ({1000 / ms:.0f} rows/s on one thread)")
            sb.result(f"onnx_ort_{name}_us", f"{ms * 1000:.2f}")
    finally:
        for p in sb.STARTED:
            sb.stop(p)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
