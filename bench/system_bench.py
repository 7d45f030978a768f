#!/usr/bin/env python3
"""system_bench: the whole-program benchmarks of `make bench` (HTTP, spam training, memory).

What and why: issue 9's sections 4-6 (and the bench parts of issues 4 and 5) measure the daemon
and the CLI as users run them, beside their ceilings and peers, in one run on one machine:
  4. HTTP, wrk on loopback (64 connections, BENCH_HTTP_SECONDS s a figure, default 10, medians
     of BENCH_HTTP_RUNS rounds, default 3, the targets interleaved in each round so that load
     from elsewhere hits all of them alike): POST /predict one row of network (a) on
     `bin/neurond serve`; the same request on an empty libmicrohttpd handler built like the
     daemon (bench/mhd_empty.c, the ceiling); the same model in scikit-learn behind Flask +
     gunicorn, 2 workers (bench/peers/flask_app.py); 1,000-row batches (rows/s); the one-row
     request with "explain": true (and its ratio to the plain one: issue 20's floor is 30%);
     POST /spam-score with 5 KB messages (when the daemon has it), with and without explain
     (floor 25%).
  5. Training the spam model with defaults (`bin/neurond train`) on 80% of the SpamAssassin
     training file (`bin/neurond split`, seed 42): wall and CPU seconds, accuracy on the other 20%.
  6. Memory: RSS of the idle daemon, with 100 small models loaded, and the peak RSS of
     `bin/neurond train` on the ~200 MB CSV that bench_csv generates (build/bench_numeric.csv).
Output: human lines, and `RESULT key value` lines appended to $BENCH_RESULTS (read by
bench/summary.py). Whatever cannot run (no wrk, no gunicorn, no /spam-score, no daemon) says so
and the rest goes on; the exit status is 0 unless the driver itself breaks.
Environment: BIN (default bin), BUILD (default build), BENCH_RESULTS, BENCH_HTTP_SECONDS,
BENCH_HTTP_RUNS, NEUROND_DATA (default ../shared/data).
"""
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("BIN", "bin")
BUILD = os.environ.get("BUILD", "build")
RESULTS = os.environ.get("BENCH_RESULTS")
SECONDS = int(os.environ.get("BENCH_HTTP_SECONDS", "10"))
RUNS = int(os.environ.get("BENCH_HTTP_RUNS", "3"))
NEUROND = os.path.join(BIN, "neurond")
N_IN = 57
STARTED = []  # every server process started here, stopped at the end whatever happens


def out(line):
    print(line, flush=True)


def result(key, value):
    if RESULTS:
        with open(RESULTS, "a") as f:
            f.write(f"RESULT {key} {value}\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, method, path, body=None, ctype="application/json", timeout=30):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(port, path, proc, seconds=60):
    t0 = time.time()
    while time.time() - t0 < seconds:
        if proc.poll() is not None:
            return False
        try:
            http(port, "GET" if path != "/predict" else "POST", path,
                 None if path != "/predict" else "{}", timeout=2)
            return True
        except OSError:
            time.sleep(0.1)
    return False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- data ----------------------------------------------------------------------------------


def make_csv(path, rows=4601, seed=7):
    """Network (a)'s data: 57 uniform features, label from a fixed random linear map."""
    rnd = random.Random(seed)
    proj = [rnd.uniform(-1, 1) for _ in range(N_IN)]
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(N_IN)) + ",label\n")
        for _ in range(rows):
            x = [rnd.random() for _ in range(N_IN)]
            s = sum((v - 0.5) * p for v, p in zip(x, proj))
            f.write(",".join(f"{v:.4f}" for v in x) + (",1\n" if s > 0 else ",0\n"))


def row_body(rows, seed=3, explain=False):
    rnd = random.Random(seed)
    inst = [[round(rnd.random(), 4) for _ in range(N_IN)] for _ in range(rows)]
    doc = {"model": "a", "instances": inst}
    if explain:
        doc["explain"] = True
    return json.dumps(doc)


# ---- wrk -----------------------------------------------------------------------------------

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "%s"
local f = assert(io.open("%s", "rb"))
wrk.body = f:read("*a")
f:close()
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %%d %%d %%d %%d %%d %%d %%d %%.1f %%.1f\\n", summary.requests,
    summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(work, url, body, ctype="application/json", seconds=SECONDS, conns=64):
    """One wrk run: dict(rps, p50_ms, p99_ms, errors, cpu_s of wrk), or None."""
    bpath = os.path.join(work, "body.bin")
    with open(bpath, "w") as f:
        f.write(body)
    lua = os.path.join(work, "post.lua")
    with open(lua, "w") as f:
        f.write(LUA % (ctype, bpath))
    r = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s", "-s", lua, url],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if line.startswith("WRK "):
            v = line.split()[1:]
            n, dur = int(v[0]), int(v[1])
            errs = sum(int(x) for x in v[2:7])
            return dict(rps=n / (dur / 1e6), p50_ms=float(v[7]) / 1e3, p99_ms=float(v[8]) / 1e3,
                        errors=errs, requests=n, status_errors=int(v[5]))
    out(f"  wrk failed: {r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]}")
    return None


def wrk_rounds(work, targets, rounds=RUNS):
    """wrk on each target (name, url, body, server process, connections) in turn, `rounds`
    times, the targets interleaved in each round so that load from elsewhere hits all of them
    alike. Returns {name: medians of rps, p50_ms, p99_ms and cpu_us (the server's CPU time a
    request), sums of errors and requests} for the targets that answered at least once."""
    runs = {t[0]: [] for t in targets}
    for _ in range(rounds):
        for name, url, body, p, conns in targets:
            c0 = cpu_of(p.pid)
            r = wrk(work, url, body, conns=conns)
            if r is not None:
                r["cpu_us"] = (cpu_of(p.pid) - c0) / max(r["requests"], 1) * 1e6
                runs[name].append(r)
    return {name: dict({k: statistics.median(r[k] for r in rs)
                        for k in ("rps", "p50_ms", "p99_ms", "cpu_us")},
                       errors=sum(r["errors"] for r in rs), requests=sum(r["requests"] for r in rs))
            for name, rs in runs.items() if rs}


def cpu_of(pid):
    """User + system CPU seconds so far of a process (its threads) and its direct children
    (gunicorn's workers)."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d) == pid or int(v[1]) == pid:
            total += (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    return total


# ---- 4. HTTP -------------------------------------------------------------------------------


def start_daemon(work, name="neurond.db"):
    port = free_port()
    env = dict(os.environ, NEUROND_LOG_REQUESTS="0")
    proc = subprocess.Popen([NEUROND, "serve", "--port", str(port), "--db",
                             os.path.join(work, name), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"),
                                                                   "a"), env=env)
    STARTED.append(proc)
    if not wait_http(port, "/healthz", proc):
        stop(proc)
        return None, None
    return proc, port


def train_model(port, csv_path, name, extra=""):
    with open(csv_path, "rb") as f:
        data = f.read()
    for attempt in range(3):  # one EPIPE on upload was seen once (see docs/performance.md)
        try:
            st, b = http(port, "POST", f"/train?model={name}&hidden=64&optimizer=sgd"
                         f"&learning_rate=0.01&batch_size=32&epochs=20&patience=0{extra}", data,
                         "text/csv")
            break
        except OSError as e:
            out(f"  POST /train failed ({e}); trying again")
            time.sleep(0.5)
    else:
        return False
    if st != 202:
        out(f"  POST /train answered {st}: {b[:200]!r}")
        return False
    job = json.loads(b)["id"]
    for _ in range(600):
        st, b = http(port, "GET", f"/jobs/{job}")
        j = json.loads(b)
        if j.get("status") in ("succeeded", "failed", "cancelled"):
            if j["status"] != "succeeded":
                out(f"  training job {j['status']}: {j.get('error')}")
            return j["status"] == "succeeded"
        time.sleep(0.1)
    return False


def bench_http(work, csv_path):
    out("\n-- 4. HTTP: POST /predict, wrk -t2 -c64 on loopback, "
        f"{SECONDS} s a figure, medians of {RUNS} rounds --")
    if shutil.which("wrk") is None:
        out("  skipped: wrk is not installed (scripts/deps.sh bench installs it)")
        return None
    proc, port = start_daemon(work)
    if proc is None:
        out(f"  skipped: {NEUROND} serve did not start (see {work}/daemon.log)")
        return None
    empty = flask = None
    try:
        if not train_model(port, csv_path, "a"):
            out("  skipped: could not train model (a) through POST /train")
            return proc, port
        one, batch = row_body(1), row_body(1000)
        st, b = http(port, "POST", "/predict", one)
        if st != 200:
            out(f"  skipped: POST /predict answered {st}: {b[:200]!r}")
            return proc, port
        # the ceiling
        exe = os.path.join(BUILD, "bench", "mhd_empty")
        eport = free_port()
        if os.access(exe, os.X_OK):
            empty = subprocess.Popen([exe, str(eport)], stdout=subprocess.DEVNULL)
            STARTED.append(empty)
            if not wait_http(eport, "/predict", empty):
                stop(empty)
                empty = None
        if empty is None:
            out("  the empty libmicrohttpd handler is missing (build/bench/mhd_empty): no ceiling")
        # the Python peer
        fport = free_port()
        if shutil.which("gunicorn") is not None:
            env = dict(os.environ, BENCH_PEER_CSV=os.path.abspath(csv_path))
            flask = subprocess.Popen(["gunicorn", "-w", "2", "--preload", "-b",
                                      f"127.0.0.1:{fport}", "--chdir",
                                      os.path.join(HERE, "peers"), "--log-level", "warning",
                                      "flask_app:app"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(work, "gunicorn.log"), "w"))
            STARTED.append(flask)
            if not wait_http(fport, "/predict", flask, 120):
                out(f"  Flask peer did not start (see {work}/gunicorn.log)")
                stop(flask)
                flask = None
        else:
            out("  Flask + gunicorn peer skipped: gunicorn is not installed "
                "(scripts/deps.sh bench installs it)")
        # 1,000-row batches with 8 connections: 64 would only queue (each takes milliseconds)
        targets = [("neurond", f"http://127.0.0.1:{port}/predict", one, proc, 64)]
        if empty is not None:
            targets.append(("empty", f"http://127.0.0.1:{eport}/predict", one, empty, 64))
        if flask is not None:
            targets.append(("flask", f"http://127.0.0.1:{fport}/predict", one, flask, 64))
        targets.append(("neurond_batch", f"http://127.0.0.1:{port}/predict", batch, proc, 8))
        targets.append(("neurond_explain", f"http://127.0.0.1:{port}/predict",
                        row_body(1, explain=True), proc, 64))
        medians = wrk_rounds(work, targets)
        for name, url, body, p, conns in targets:
            if name not in medians:
                continue
            m = medians[name]
            rps, p50, p99, errs, reqs, cpu_per = (m[k] for k in ("rps", "p50_ms", "p99_ms",
                                                                  "errors", "requests", "cpu_us"))
            label = {"neurond": "neurond POST /predict, 1 row",
                     "empty": "empty libmicrohttpd handler (ceiling)",
                     "flask": "Flask + gunicorn (2 workers) + scikit-learn",
                     "neurond_batch": "neurond POST /predict, 1,000-row batches, 8 connections",
                     "neurond_explain": "neurond POST /predict, 1 row, \"explain\": true"}[name]
            if name == "neurond_batch":
                out(f"  {label}: {rps:.0f} req/s = {rps * 1000:.0f} rows/s, p50 {p50:.2f} ms, "
                    f"p99 {p99:.2f} ms; server CPU {cpu_per:.0f} us a request")
                result("http_batch_rows_s", f"{rps * 1000:.0f}")
            else:
                out(f"  {label}: {rps:.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
                    f"server CPU {cpu_per:.1f} us a request")
            if errs:
                out(f"    ({errs} of {reqs} requests failed or answered non-2xx)")
            result(f"http_{name}_rps", f"{rps:.0f}")
            result(f"http_{name}_p50_ms", f"{p50:.3f}")
            result(f"http_{name}_p99_ms", f"{p99:.3f}")
            result(f"http_{name}_errors", errs)
            result(f"http_{name}_cpu_us", f"{cpu_per:.1f}")
        if "neurond" in medians and "neurond_explain" in medians:
            ratio = medians["neurond_explain"]["rps"] / medians["neurond"]["rps"]
            out(f"  /predict with explain: {ratio:.0%} of the req/s without it (floor 30%)")
            result("http_explain_ratio", f"{ratio:.3f}")
        bench_spam_score(work, port)
    finally:
        stop(empty)
        stop(flask)
    return proc, port


def spam_message(rnd, size=5000):
    words = ("free money offer click here viagra meeting tomorrow attached report please "
             "review the budget lunch cheap pills winner urgent account password update "
             "project schedule thanks regards").split()
    text = []
    n = 0
    while n < size:
        w = rnd.choice(words)
        text.append(w)
        n += len(w) + 1
    return " ".join(text)[:size]


def bench_spam_score(work, port):
    out("\n-- 4b. POST /spam-score, 5 KB messages, wrk -t2 -c64 --")
    body = json.dumps({"text": spam_message(random.Random(5))})
    st, b = http(port, "POST", "/spam-score", body)
    if st == 404 and b"not_found" in b and b"spam" in b.lower() and b"model" in b.lower():
        # the endpoint is there but no spam model: train one on the spam training file
        spam = spam_csv(work)
        if spam is not None:
            with open(spam, "rb") as f:
                data = f.read()
            st2, b2 = http(port, "POST", "/train?model=spam&epochs=5", data, "text/csv", 120)
            if st2 == 202:
                job = json.loads(b2)["id"]
                for _ in range(1200):
                    j = json.loads(http(port, "GET", f"/jobs/{job}")[1])
                    if j.get("status") in ("succeeded", "failed", "cancelled"):
                        break
                    time.sleep(0.2)
            st, b = http(port, "POST", "/spam-score", body)
    if st != 200:
        out(f"  skipped: POST /spam-score answered {st} ({b[:120]!r}): not in this daemon yet")
        result("spam_score_available", 0)
        return
    ebody = json.dumps(dict(json.loads(body), explain=True))
    rs, es = [], []
    for _ in range(RUNS):  # interleaved, so that load from elsewhere hits both alike
        r = wrk(work, f"http://127.0.0.1:{port}/spam-score", body)
        if r is not None:
            rs.append(r)
        r = wrk(work, f"http://127.0.0.1:{port}/spam-score", ebody)
        if r is not None:
            es.append(r)
    if es:
        erps = statistics.median(r["rps"] for r in es)
        out(f"  with \"explain\": true: {erps:.0f} messages/s, p99 "
            f"{statistics.median(r['p99_ms'] for r in es):.2f} ms")
        result("spam_score_explain_rps", f"{erps:.0f}")
    if not rs:
        return
    rps = statistics.median(r["rps"] for r in rs)
    p99 = statistics.median(r["p99_ms"] for r in rs)
    errs = sum(r["errors"] for r in rs)
    out(f"  {rps:.0f} messages/s, p99 {p99:.2f} ms (medians of {len(rs)})"
        + (f"; {errs} requests failed or answered non-2xx" if errs else ""))
    result("spam_score_errors", errs)
    result("spam_score_rps", f"{rps:.0f}")
    result("spam_score_p99_ms", f"{p99:.3f}")
    if es:
        out(f"  /spam-score with explain: {erps / rps:.0%} of the messages/s without it (floor 25%)")
        result("spam_score_explain_ratio", f"{erps / rps:.3f}")


# ---- 5. spam training ----------------------------------------------------------------------


def spam_csv(work):
    data_dir = os.environ.get("NEUROND_DATA", os.path.join("..", "shared", "data"))
    p = os.path.join(data_dir, "spamassassin_train.csv")
    if os.path.exists(p):
        return p
    xz = os.path.join("tests", "data", "spamassassin_train.csv.xz")
    dst = os.path.join(work, "spamassassin_train.csv")
    if os.path.exists(dst):
        return dst
    if os.path.exists(xz) and shutil.which("xz"):
        with open(dst, "wb") as f:
            if subprocess.run(["xz", "-dc", xz], stdout=f).returncode == 0:
                return dst
    return None


def measured(cmd):
    """Runs cmd in a child; returns (rc, wall s, CPU s, peak RSS KiB, stdout bytes, stderr)."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.perf_counter()
        pid = subprocess.Popen(cmd, stdout=fo, stderr=fe).pid
        _, status, ru = os.wait4(pid, 0)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        so, se = fo.read(), fe.read()
    rc = os.waitstatus_to_exitcode(status)
    return rc, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, so, se


def bench_spam_train(work):
    out("\n-- 5. training the spam model with defaults (bin/neurond train) --")
    spam = spam_csv(work)
    if spam is None:
        out("  skipped: no spamassassin_train.csv (../shared/data or tests/data/*.xz)")
        return
    tr, te = os.path.join(work, "spam_train.csv"), os.path.join(work, "spam_test.csv")
    r = subprocess.run([NEUROND, "split", spam, tr, te, "--test", "0.2", "--seed", "42"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        out(f"  skipped: neurond split failed: {r.stderr.strip()[:200]}")
        return
    model = os.path.join(work, "spam.nrd")
    rc, wall, cpu, peak, so, se = measured([NEUROND, "train", tr, "-o", model, "--quiet"])
    if rc != 0:
        out(f"  neurond train failed ({rc}): {se.decode(errors='replace').strip()[:300]}")
        return
    rc2, _, _, _, pred, se2 = measured([NEUROND, "predict", model, te])
    acc = None
    if rc2 == 0:
        import csv
        import io
        truth = [row[-1] for row in csv.reader(io.StringIO(open(te, newline="").read()))][1:]
        rows = list(csv.reader(io.StringIO(pred.decode())))
        try:
            col = rows[0].index("prediction")
            got = [row[col] for row in rows[1:]]
            if len(got) == len(truth):
                acc = sum(a == b for a, b in zip(got, truth)) / len(truth)
        except ValueError:
            pass
    if acc is None:
        out(f"  (could not score the held-out part: {se2.decode(errors='replace').strip()[:200]})")
    out(f"  {os.path.basename(spam)}, 80% (neurond split --test 0.2 --seed 42) -> {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS "
        f"{peak / 1024:.0f} MiB" + (f"; held-out accuracy {acc:.4f}" if acc is not None else ""))
    result("spam_train_wall_s", f"{wall:.2f}")
    result("spam_train_cpu_s", f"{cpu:.2f}")
    if acc is not None:
        result("spam_train_accuracy", f"{acc:.4f}")


# ---- 6. memory -----------------------------------------------------------------------------


def bench_memory(work, csv_path, proc, port):
    out("\n-- 6. memory --")
    if proc is None:
        proc, port = start_daemon(work, "mem.db")
        if proc is not None:
            train_model(port, csv_path, "a")
    if proc is None:
        out("  daemon figures skipped: the daemon did not start")
    else:
        try:
            st, exp = http(port, "GET", "/models/a/export")
            fresh, fport = start_daemon(work, "idle.db")
            if fresh is not None:
                time.sleep(0.5)
                idle = rss_kb(fresh.pid)
                out(f"  idle daemon (empty database): RSS {idle / 1024:.1f} MiB")
                result("mem_idle_kb", idle)
                if st != 200:
                    out(f"  100 models skipped: GET /models/a/export answered {st}")
                else:
                    ok = 0
                    for i in range(100):
                        s1, _ = http(fport, "POST", f"/models/m{i}/import", exp)
                        s2, _ = http(fport, "POST", f"/models/m{i}/predict", row_body(1))
                        ok += s1 == 201 and s2 == 200
                    time.sleep(0.5)
                    loaded = rss_kb(fresh.pid)
                    out(f"  the same daemon with {ok} models of network (a) imported and used "
                        f"once each: RSS {loaded / 1024:.1f} MiB")
                    result("mem_100_models_kb", loaded)
                stop(fresh)
            if proc is not None:
                out(f"  the daemon after the HTTP benchmark (64 connections): RSS "
                    f"{rss_kb(proc.pid) / 1024:.1f} MiB")
        finally:
            stop(proc)
    big = os.path.join(BUILD, "bench_numeric.csv")
    if not os.path.exists(big):
        out(f"  training peak skipped: {big} is missing (bench_csv makes it)")
        return
    size = os.path.getsize(big)
    rc, wall, cpu, peak, so, se = measured([NEUROND, "train", big, "-o",
                                            os.path.join(work, "big.nrd"), "--epochs", "1",
                                            "--hidden", "16", "--quiet"])
    if rc != 0:
        out(f"  neurond train on {big} failed ({rc}): {se.decode(errors='replace')[:200]}")
        return
    out(f"  neurond train on {big} ({size / 1e6:.0f} MB, 1 epoch, hidden 16): peak RSS "
        f"{peak / 1024:.0f} MiB = {peak * 1024 / size:.2f}x the file; {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU")
    result("mem_train_peak_kb", peak)
    result("mem_train_file_bytes", size)


def main():
    out("== system_bench: HTTP, spam training and memory (bin/neurond) ==")
    if not os.access(NEUROND, os.X_OK) or subprocess.run(
            [NEUROND, "serve", "--help"], capture_output=True).returncode != 0:
        out(f"skipped: {NEUROND} is missing or has no 'serve' command yet")
        return 0
    work = tempfile.mkdtemp(prefix="neurond-bench-", dir=BUILD if os.path.isdir(BUILD) else None)
    try:
        csv_path = os.path.join(work, "a.csv")
        make_csv(csv_path)
        res = bench_http(work, csv_path)
        proc, port = res if res else (None, None)
        bench_spam_train(work)
        bench_memory(work, csv_path, proc, port)
    finally:
        for p in STARTED:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
