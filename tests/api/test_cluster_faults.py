"""Many replicas, one PostgreSQL (issue 18), the heavier faults: a 100 MB upload accepted on
one replica and trained by another, SIGKILL of every replica at once, PostgreSQL stopped
while jobs wait and run. Real daemons, a real throwaway PostgreSQL (conftest.pg_server;
skipped with the reason when PostgreSQL is not installed), nothing mocked."""
import random
import time
import uuid

import requests

from conftest import data, pg_control, pg_database, pg_sql, train, wait_epoch, wait_job
from test_cluster import LEASE, cluster, predict  # noqa: F401 (cluster is a fixture)

BIG_MIB = 100


def big_csv(path, mib=BIG_MIB):
    """Writes a CSV of at least mib MiB (4 numeric columns, a yes/no label that follows
    a + b > 1), from a block of random rows repeated: made in well under a second."""
    rnd = random.Random(7)
    rows = []
    for _ in range(4096):
        x = [rnd.random() for _ in range(4)]
        rows.append("%.6f,%.6f,%.6f,%.6f,%s\n" % (x[0], x[1], x[2], x[3], "yes" if x[0] + x[1] > 1 else "no"))
    block = "".join(rows).encode()
    n = 0
    with open(path, "wb") as f:
        f.write(b"a,b,c,d,label\n")
        while n < mib * 1024 * 1024:
            f.write(block)
            n += len(block)
    return n


def started_on(d, job_id):
    """Whether daemon d's log (all of it) says it started training job_id."""
    with open(d.log_path, "rb") as f:
        return ("job %s started" % job_id).encode() in f.read()


def test_100mb_upload_on_a_is_trained_by_b_streamed_in_chunks(make_daemon, tmp_path):
    """A accepts the upload while its only worker is busy; B adopts the job once it waited a
    lease, fetches the dataset from the store (its spool never had it) and trains it. The
    upload goes disk -> store in chunks: A's peak RSS grows far less than the file."""
    url = pg_database("big_" + uuid.uuid4().hex[:12])
    common = ["--store", url, "--job-lease-s", str(LEASE)]
    a = make_daemon(common + ["--workers", "1"], db=str(tmp_path / "a" / "neurond.db"))
    b = make_daemon(common + ["--workers", "1"], db=str(tmp_path / "b" / "neurond.db"))
    # A's only worker trains a long job: the big one stays queued on A
    with open(data("digits_train.csv"), "rb") as f:
        busy = train(a.base, "busy", content=f.read(), params={"epochs": 100000, "patience": 0, "hidden": "8"})
    wait_epoch(a.base, busy["id"], 1)
    assert started_on(a, busy["id"])
    path = tmp_path / "big.csv"
    size = big_csv(str(path))
    assert size >= 100 * 1024 * 1024
    hwm_before = a.rss_kb("VmHWM")
    with open(path, "rb") as f:
        r = requests.post(a.url("/train?model=big&epochs=1&hidden=4&seed=1"), data=f,
                          headers={"Content-Type": "text/csv"}, timeout=300)
    assert r.status_code == 202, r.text
    growth_mib = (a.rss_kb("VmHWM") - hwm_before) / 1024.0
    print("replica A: peak RSS grew %.1f MiB accepting the %d MiB upload" % (growth_mib, BIG_MIB))
    job = r.json()
    stored = pg_sql(url, "SELECT d.bytes FROM jobs j JOIN datasets d ON d.id = j.dataset_id "
                         "WHERE j.id = '%s'" % job["id"])
    assert stored == [str(size + len("a,b,c,d,label\n"))], stored
    # the whole file in memory once would be >= 100 MiB of growth; chunks of 1 MiB stay small
    assert growth_mib < 40, "replica A's peak RSS grew %.0f MiB while accepting %d MiB" % (growth_mib, BIG_MIB)
    chunks = pg_sql(url, "SELECT COUNT(*), MAX(octet_length(data)), SUM(octet_length(data)) "
                         "FROM dataset_chunks WHERE spool = (SELECT d.spool FROM jobs j JOIN "
                         "datasets d ON d.id = j.dataset_id WHERE j.id = '%s')" % job["id"])[0].split("|")
    assert int(chunks[0]) >= 100 and int(chunks[1]) <= 1024 * 1024, chunks
    assert [chunks[2]] == stored

    j = wait_job(b.base, job["id"], timeout=300)
    assert j["status"] == "succeeded", j
    assert j["metrics"]["val_accuracy"] > 0.9, j["metrics"]
    assert started_on(b, job["id"]), "replica B did not train the job"
    assert not started_on(a, job["id"]), "replica A trained the job itself"
    r = predict(a.base, "big", {"a": 0.9, "b": 0.8, "c": 0.1, "d": 0.5})
    assert r.status_code == 200 and r.json()["predictions"][0]["label"] == "yes", r.text
    assert requests.post(a.url("/jobs/%s/cancel" % busy["id"])).status_code == 200
    assert pg_sql(url, "SELECT COUNT(*) FROM dataset_chunks") == ["0"]  # dropped when jobs end


def jobs_consistent(url, jobs, model):
    """Every job succeeded once, one version each, dense 1..n, and nothing left behind."""
    n = len(jobs)
    rows = pg_sql(url, "SELECT id, status, model_version, epoch FROM jobs ORDER BY seq")
    assert len(rows) == n, rows
    by_id = {r.split("|")[0]: r.split("|")[1:] for r in rows}
    assert sorted(by_id) == sorted(jobs)
    assert all(v[0] == "succeeded" for v in by_id.values()), by_id
    assert sorted(int(v[1]) for v in by_id.values()) == list(range(1, n + 1))
    versions = pg_sql(url, "SELECT v.version, v.job_id FROM model_versions v JOIN models m "
                           "ON m.id = v.model_id WHERE m.name = '%s' ORDER BY v.version" % model)
    assert [v.split("|")[0] for v in versions] == [str(i) for i in range(1, n + 1)]
    assert sorted(v.split("|")[1] for v in versions) == sorted(jobs)  # one version per job
    for v in versions:
        version, jid = v.split("|")
        assert by_id[jid][1] == version  # the job names the version that names it
    assert pg_sql(url, "SELECT next_version FROM models WHERE name = '%s'" % model) == [str(n + 1)]
    assert pg_sql(url, "SELECT COUNT(*) FROM jobs WHERE lease_owner IS NOT NULL") == ["0"]
    assert pg_sql(url, "SELECT COUNT(*) FROM dataset_chunks") == ["0"]
    # each job's history is the one run that succeeded: epochs 1..epoch, no leftovers
    bad = pg_sql(url, "SELECT j.id FROM jobs j LEFT JOIN job_history h ON h.job_id = j.id "
                      "GROUP BY j.id, j.epoch HAVING COUNT(h.epoch) <> j.epoch "
                      "OR COALESCE(MAX(h.epoch), 0) <> j.epoch")
    assert bad == [], bad


def submit_until_some_run(url, ds, model, n):
    """Submits n jobs of a few seconds each round-robin to the replicas (6 workers in all),
    then waits until at least two of them train (an epoch recorded) while others wait."""
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    jobs = [train(ds[i % len(ds)].base, model, content=digits,
                  params={"epochs": 150, "patience": 0, "hidden": "32", "seed": i})["id"]
            for i in range(n)]
    deadline = time.time() + 60
    while True:
        running = pg_sql(url, "SELECT COUNT(*) FROM jobs WHERE status = 'running' AND epoch >= 1")
        queued = pg_sql(url, "SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
        if int(running[0]) >= 2 and int(queued[0]) >= 1:
            return jobs
        assert time.time() < deadline, (running, queued)
        time.sleep(0.02)


def test_sigkill_every_replica_at_once_then_restart(cluster):
    url, ds = cluster()
    jobs = submit_until_some_run(url, ds, "k", 12)
    for d in ds:
        d.proc.kill()  # SIGKILL, all at once (then reaped)
    for d in ds:
        d.proc.wait()
        d.log.close()
    before = dict(r.split("|") for r in pg_sql(url, "SELECT status, COUNT(*) FROM jobs GROUP BY status"))
    assert int(before.get("running", 0)) >= 1 and int(before.get("queued", 0)) >= 1, before
    for d in ds:
        d.start()  # the same --db folders and spools, new ports: new replica names
    for k, jid in enumerate(jobs):
        j = wait_job(ds[k % 3].base, jid, timeout=240)
        assert j["status"] == "succeeded", j
    jobs_consistent(url, jobs, "k")
    for d in ds:
        assert requests.get(d.url("/models/k")).json()["versions"] == list(range(1, 13))


def test_postgresql_down_while_jobs_wait_and_run(cluster):
    """Jobs accepted before the outage, some running and some queued when PostgreSQL stops:
    every one ends succeeded once PostgreSQL is back, each once, versions dense."""
    url, ds = cluster()
    jobs = submit_until_some_run(url, ds, "o", 12)
    try:
        pg_control("stop")
        time.sleep(8)
        for d in ds:
            assert requests.get(d.url("/healthz")).json()["store"] == "down"
    finally:
        pg_control("start")
    deadline = time.time() + 15
    while any(requests.get(d.url("/healthz")).json().get("store") != "up" for d in ds):
        assert time.time() < deadline, "the replicas did not reconnect"
        for d in ds:
            requests.get(d.url("/models"))  # a call that reaches the store
        time.sleep(0.2)
    for k, jid in enumerate(jobs):
        j = wait_job(ds[(k + 1) % 3].base, jid, timeout=240)
        assert j["status"] == "succeeded", j
    jobs_consistent(url, jobs, "o")
