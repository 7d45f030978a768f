#!/usr/bin/env python3
"""cluster: the figures of issue 18 (many replicas, one PostgreSQL), one run, side by side.

What and why: a shared store must not slow the hot path, and what replicas cost must be known.
  1. POST /predict, one row of network (a) (57 -> 64 -> 1), wrk -t2 -c64 on loopback: one
     replica on PostgreSQL beside one on SQLite (each --workers 1, the same model imported
     into both), BENCH_HTTP_RUNS rounds of BENCH_HTTP_SECONDS s, the two interleaved in each
     round, in turns first; medians of req/s and p99, server CPU per request. The target: PostgreSQL within
     10% of SQLite in req/s (predictions are served from memory on both).
  2. Small training jobs (iris, 30 epochs) finished per minute by 1, 2 and 3 replicas on one
     PostgreSQL (default workers: one per core each), submitted round-robin, beside one
     daemon on SQLite and one replica with as many workers as the three, with the daemons'
     CPU time a job; medians of BENCH_HTTP_RUNS rounds, the setups interleaved in each. On a
     2-core machine one replica already uses both cores: more replicas add no capacity, only
     their coordination (leases, claims, the feed); what they seem to gain on jobs this small
     is more workers overlapping store round trips, as the wide single replica shows.
  3. Time from a version stored through replica A (POST /models/<name>/import answered) to
     its first prediction on replica B (B polled without pause): p50 and p99 of
     BENCH_CLUSTER_VERSIONS versions (default 100), also counted from the import's request.
The PostgreSQL is a throwaway one (scripts/pg-tmp.sh, as in `make test`), stopped at the end.
Output: human lines, and `RESULT cluster_* value` lines appended to $BENCH_RESULTS when set.
Whatever cannot run (no PostgreSQL, no wrk) says so and the rest goes on; exit status 0
unless the driver itself breaks. Run alone: `BIN=bin /usr/bin/python3 bench/cluster.py`.
Environment: BIN, BUILD, BENCH_RESULTS, BENCH_HTTP_SECONDS, BENCH_HTTP_RUNS,
BENCH_CLUSTER_JOBS (default 60), BENCH_CLUSTER_VERSIONS (default 100).
"""
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import system_bench as sb  # noqa: E402 (wrk, the daemon helpers, network (a)'s data)

ROOT = os.path.dirname(HERE)
PG_TMP = os.path.join(ROOT, "scripts", "pg-tmp.sh")
JOBS = int(os.environ.get("BENCH_CLUSTER_JOBS", "60"))
VERSIONS = int(os.environ.get("BENCH_CLUSTER_VERSIONS", "100"))
IRIS = os.path.join(ROOT, "tests", "data", "iris_train.csv")
out, result = sb.out, sb.result


def start(work, name, store=None, workers=None):
    """A daemon on a new --db folder (and --store when given); (proc, port) or (None, None)."""
    port = sb.free_port()
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    cmd = [sb.NEUROND, "serve", "--port", str(port), "--db", os.path.join(d, "neurond.db")]
    cmd += ["--store", store] if store else []
    cmd += ["--workers", str(workers)] if workers else []
    env = dict(os.environ, NEUROND_LOG_REQUESTS="0")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "daemon.log"), "a"), env=env)
    sb.STARTED.append(proc)
    deadline = time.time() + 60
    while proc.poll() is None and time.time() < deadline:
        try:
            if sb.http(port, "GET", "/readyz", timeout=2)[0] == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    out(f"  {name} did not get ready (see {d}/daemon.log)")
    sb.stop(proc)
    return None, None


def pg_database(base_url, name):
    """A new database on the throwaway server; its URL."""
    host_port = base_url.split("@", 1)[1].split("/", 1)[0]
    port = host_port.rsplit(":", 1)[1]
    subprocess.run(["createdb", "-h", "127.0.0.1", "-p", port, "-U", "neurond", name], check=True,
                   capture_output=True)
    return base_url.rsplit("/", 1)[0] + "/" + name


def wait_jobs(port, ids, timeout=600):
    """Waits until every job ended; returns how many succeeded."""
    ok = 0
    deadline = time.time() + timeout
    for jid in ids:
        while time.time() < deadline:
            st, b = sb.http(port, "GET", f"/jobs/{jid}")
            status = json.loads(b).get("status") if st == 200 else None
            if status in ("succeeded", "failed", "cancelled"):
                ok += status == "succeeded"
                break
            time.sleep(0.05)
    return ok


# ---- 1. /predict on PostgreSQL beside SQLite ----------------------------------------------


def bench_predict(work, pg):
    out(f"\n-- 1. POST /predict, 1 row, one replica on PostgreSQL beside one on SQLite "
        f"(wrk -t2 -c64, {sb.SECONDS} s a figure, medians of {sb.RUNS} rounds, interleaved, "
        "in turns first) --")
    if shutil.which("wrk") is None:
        out("  skipped: wrk is not installed (scripts/deps.sh bench installs it)")
        return
    csv_path = os.path.join(work, "a.csv")
    sb.make_csv(csv_path)
    sq, sq_port = start(work, "predict-sqlite", workers=1)
    pq, pq_port = start(work, "predict-pg", store=pg_database(pg, "bench_predict"), workers=1)
    if sq is None or pq is None:
        return
    if not sb.train_model(sq_port, csv_path, "a"):
        out("  skipped: could not train model (a)")
        return
    st, export = sb.http(sq_port, "GET", "/models/a/export")
    st2, b = sb.http(pq_port, "POST", "/models/a/import", export)
    if st != 200 or st2 not in (200, 201):
        out(f"  skipped: the model did not reach the PostgreSQL replica ({st}, {st2}: {b[:200]!r})")
        return
    one = sb.row_body(1)
    s1, r1 = sb.http(sq_port, "POST", "/predict", one)
    s2, r2 = sb.http(pq_port, "POST", "/predict", one)
    if s1 != 200 or s2 != 200 or json.loads(r1)["predictions"] != json.loads(r2)["predictions"]:
        out(f"  skipped: the two replicas do not answer alike ({s1}, {s2})")
        return
    targets = [("sqlite", sq, sq_port), ("postgresql", pq, pq_port)]
    runs = {t[0]: [] for t in targets}
    for rnd in range(sb.RUNS):
        for name, proc, port in targets if rnd % 2 == 0 else targets[::-1]:  # ABBA: no order bias
            c0 = sb.cpu_of(proc.pid)
            r = sb.wrk(work, f"http://127.0.0.1:{port}/predict", one)
            if r is not None:
                r["server_cpu"] = sb.cpu_of(proc.pid) - c0
                runs[name].append(r)
    figs = {}
    for name, proc, port in targets:
        rs = runs[name]
        if not rs:
            continue
        rps = statistics.median(r["rps"] for r in rs)
        p99 = statistics.median(r["p99_ms"] for r in rs)
        cpu = statistics.median(r["server_cpu"] / max(r["requests"], 1) * 1e6 for r in rs)
        errs = sum(r["errors"] for r in rs)
        figs[name] = (rps, p99, cpu)
        out(f"  {name:10s}: {rps:8.0f} req/s, p99 {p99:.2f} ms, server CPU {cpu:.1f} us a request"
            + (f" ({errs} requests failed)" if errs else ""))
        result(f"cluster_predict_{name}_rps", f"{rps:.0f}")
        result(f"cluster_predict_{name}_p99_ms", f"{p99:.3f}")
        result(f"cluster_predict_{name}_cpu_us", f"{cpu:.1f}")
    if len(figs) == 2:
        ratio = figs["postgresql"][0] / figs["sqlite"][0]
        cpu_ratio = figs["postgresql"][2] / figs["sqlite"][2]
        out(f"  PostgreSQL / SQLite: {ratio:.3f}x req/s, {cpu_ratio:.3f}x server CPU a request "
            f"(target: PostgreSQL's req/s at least 0.9x SQLite's: "
            f"{'met' if ratio >= 0.9 else 'NOT met'}; under load from elsewhere the server CPU "
            "a request is the steadier figure)")
        result("cluster_predict_pg_ratio", f"{ratio:.3f}")
    sb.stop(sq)
    sb.stop(pq)


# ---- 2. training jobs per minute with 1, 2, 3 replicas -------------------------------------


def jobs_per_minute(ports, procs):
    """Submits JOBS small jobs round-robin; (jobs finished per minute from the first submit to
    the last end, CPU ms of the daemons a job, jobs succeeded), or None."""
    with open(IRIS, "rb") as f:
        iris = f.read()
    ids = []
    c0 = sum(sb.cpu_of(p.pid) for p in procs)
    t0 = time.time()
    for i in range(JOBS):
        port = ports[i % len(ports)]
        st, b = sb.http(port, "POST", f"/train?model=j{i % 4}&epochs=30&patience=0&seed={i}",
                        iris, "text/csv")
        if st != 202:
            out(f"  POST /train answered {st}: {b[:200]!r}")
            return None
        ids.append(json.loads(b)["id"])
    ok = wait_jobs(ports[0], ids)
    wall = time.time() - t0
    cpu = sum(sb.cpu_of(p.pid) for p in procs) - c0
    return JOBS / (wall / 60.0), cpu / JOBS * 1000, ok


def bench_jobs(work, pg):
    out(f"\n-- 2. small training jobs (iris, 30 epochs) finished per minute, {JOBS} jobs "
        f"submitted round-robin; default workers (one per core) on each replica; medians of "
        f"{sb.RUNS} rounds, the setups interleaved in each --")
    cores = os.cpu_count() or 1
    setups = [("sqlite", "1 daemon on SQLite", 0, None)] + \
        [(f"pg{n}", f"{n} replica{'s' if n > 1 else ''} on PostgreSQL", n, None) for n in (1, 2, 3)] + \
        [("pg1_wide", f"1 replica on PostgreSQL, {3 * cores} workers", 1, 3 * cores)]
    runs = {key: [] for key, _, _, _ in setups}
    for rnd in range(sb.RUNS):
        for key, _, n, workers in setups:
            url = pg_database(pg, f"bench_jobs_{key}_{rnd}") if n else None
            reps = [start(work, f"jobs-{key}-{rnd}-{i}", store=url, workers=workers)
                    for i in range(max(n, 1))]
            if all(p is not None for p, _ in reps):
                r = jobs_per_minute([port for _, port in reps], [p for p, _ in reps])
                if r is not None:
                    runs[key].append(r)
            for p, _ in reps:
                sb.stop(p)
    for key, label, _, _ in setups:
        if not runs[key]:
            continue
        rate = statistics.median(r[0] for r in runs[key])
        cpu = statistics.median(r[1] for r in runs[key])
        ok = sum(r[2] for r in runs[key])
        out(f"  {label:36s}: {rate:6.0f} jobs/min, {cpu:5.1f} ms of the daemons' CPU a job "
            f"({ok}/{JOBS * len(runs[key])} succeeded)")
        result(f"cluster_jobs_{key}_per_min", f"{rate:.0f}")
        result(f"cluster_jobs_{key}_cpu_ms", f"{cpu:.1f}")
    out(f"  ({cores} cores here: one replica's workers already cover every core, so a second or "
        "third replica on this machine adds no capacity, only coordination (claims, leases, the "
        "change feed): overhead, not speed-up. Jobs this small wait on the store (one write an "
        "epoch), so more workers overlap those waits: compare one replica with as many workers "
        "as three replicas have. The throwaway PostgreSQL runs with fsync off, SQLite with its "
        "syncs: the SQLite-PostgreSQL gap is not a production one)")


# ---- 3. a version stored through A, first served by B --------------------------------------


def bench_propagation(work, pg):
    out(f"\n-- 3. a version stored through replica A (import answered) to its first prediction "
        f"on replica B, {VERSIONS} versions --")
    url = pg_database(pg, "bench_feed")
    a, a_port = start(work, "feed-a", store=url)
    b, b_port = start(work, "feed-b", store=url)
    if a is None or b is None:
        return
    with open(IRIS, "rb") as f:
        st, body = sb.http(a_port, "POST", "/train?model=p&epochs=5", f.read(), "text/csv")
    if st != 202 or wait_jobs(a_port, [json.loads(body)["id"]]) != 1:
        out("  skipped: the first version could not be trained")
        return
    st, export = sb.http(a_port, "GET", "/models/p/export")
    row = json.dumps({"instances": [{"sepal_length_cm": 5.1, "sepal_width_cm": 3.5,
                                     "petal_length_cm": 1.4, "petal_width_cm": 0.2}]})
    conn_a = http.client.HTTPConnection("127.0.0.1", a_port, timeout=30)
    conn_b = http.client.HTTPConnection("127.0.0.1", b_port, timeout=30)

    def call(conn, method, path, data):
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()

    lat, polls, sent = [], [], []
    for _ in range(VERSIONS):
        t_send = time.perf_counter()
        st, reply = call(conn_a, "POST", "/models/p/import", export)
        t0 = time.perf_counter()
        if st not in (200, 201):
            out(f"  import answered {st}: {reply[:200]!r}")
            return
        version = json.loads(reply)["version"]
        n = 0
        while True:
            st, reply = call(conn_b, "POST", "/models/p/predict", row)
            n += 1
            if st == 200 and json.loads(reply)["version"] == version:
                break
            if time.perf_counter() - t0 > 10:
                out(f"  version {version} not served by B after 10 s")
                return
        t1 = time.perf_counter()
        lat.append((t1 - t0) * 1000)
        sent.append((t1 - t_send) * 1000)
        polls.append(n)

    def pct(v, q):
        v = sorted(v)
        return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]

    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    out(f"  from A's reply: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat):.1f} ms; from the "
        f"import's request (the import included): p50 {pct(sent, 0.5):.1f} ms, p99 "
        f"{pct(sent, 0.99):.1f} ms")
    out(f"  (B polled without pause, median {statistics.median(polls):.0f} predictions a version: "
        "the feed wakes B through LISTEN/NOTIFY, B reloads the model, then serves it from memory)")
    result("cluster_propagation_p50_ms", f"{p50:.2f}")
    result("cluster_propagation_p99_ms", f"{p99:.2f}")
    result("cluster_propagation_from_request_p50_ms", f"{pct(sent, 0.5):.2f}")
    result("cluster_propagation_from_request_p99_ms", f"{pct(sent, 0.99):.2f}")
    sb.stop(a)
    sb.stop(b)


def main():
    out("== cluster: replicas on one PostgreSQL (bin/neurond, a throwaway PostgreSQL) ==")
    out(f"machine: {os.cpu_count()} cores; load average at start "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])}")
    if not os.access(sb.NEUROND, os.X_OK):
        out(f"skipped: {sb.NEUROND} is missing (make first)")
        return 0
    work = tempfile.mkdtemp(prefix="neurond-cluster-", dir=sb.BUILD if os.path.isdir(sb.BUILD) else None)
    pg_dir = os.path.join("/tmp", f"neurond-bench-pg-{os.getpid()}")
    r = subprocess.run([PG_TMP, "start", pg_dir, str(os.getpid())], capture_output=True, text=True)
    if r.returncode != 0:
        out(f"skipped: no PostgreSQL (scripts/pg-tmp.sh: {r.stderr.strip()})")
        return 0
    pg = r.stdout.strip()
    try:
        bench_predict(work, pg)
        bench_jobs(work, pg)
        bench_propagation(work, pg)
    finally:
        for p in sb.STARTED:
            sb.stop(p)
        subprocess.run([PG_TMP, "destroy", pg_dir], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    out(f"load average at the end {' '.join(open('/proc/loadavg').read().split()[:3])} "
        "(other work shares this machine: read the ratios, taken within one run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
