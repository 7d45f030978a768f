"""Many replicas, one PostgreSQL (issue 18): three real daemons on loopback ports sharing a
throwaway PostgreSQL (scripts/pg-tmp.sh, started by conftest.pg_server; skipped with the
reason when PostgreSQL is not installed). Nothing is mocked."""
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from conftest import (IRIS_ROW, LONG, ROOT, NEUROND, data, error_of, pg_control, pg_database,
                      pg_sql, train, wait_epoch, wait_job)

LEASE = 3  # seconds: a killed replica's job is taken over after this


@pytest.fixture
def cluster(make_daemon, tmp_path):
    """Starts n replicas (two workers each, each its own --db folder and spool) on one new
    database; returns (url, [daemons])."""
    def start(n=3, extra=()):
        url = pg_database("cluster_" + uuid.uuid4().hex[:12])
        ds = [make_daemon(["--store", url, "--workers", "2", "--job-lease-s", str(LEASE)] + list(extra),
                          db=str(tmp_path / ("replica%d" % i) / "neurond.db")) for i in range(n)]
        return url, ds
    return start


def predict(base, model, row=IRIS_ROW):
    return requests.post(base + "/models/%s/predict" % model, json={"instances": [row]}, timeout=10)


def test_train_on_a_predict_on_b_and_c_same_bytes(cluster):
    url, (a, b, c) = cluster()
    job = train(a.base, "iris", data("iris_train.csv"), {"epochs": 20})
    assert wait_job(a.base, job["id"])["status"] == "succeeded"
    ra = predict(a.base, "iris")
    assert ra.status_code == 200, ra.text
    for d in (b, c):
        r = predict(d.base, "iris")
        assert r.status_code == 200, r.text
        assert r.content == ra.content  # the same model, the same bytes
    # a new version through A is served by B within 1 s of its job's success
    job2 = train(a.base, "iris", data("iris_train.csv"), {"epochs": 5, "seed": 7})
    assert wait_job(a.base, job2["id"])["status"] == "succeeded"
    t0 = time.time()
    while predict(b.base, "iris").json()["version"] != 2:
        assert time.time() - t0 < 1.0, "replica B still serves version 1 after 1 s"
        time.sleep(0.02)
    # a pin and a delete through C reach A and B within 1 s
    assert requests.put(c.url("/models/iris/serving"), json={"version": 1}).status_code == 200
    t0 = time.time()
    while predict(a.base, "iris").json()["version"] != 1 or predict(b.base, "iris").json()["version"] != 1:
        assert time.time() - t0 < 1.0, "the pin made through C is not served by A and B within 1 s"
        time.sleep(0.02)
    assert requests.delete(c.url("/models/iris")).status_code in (200, 204)
    t0 = time.time()
    while predict(a.base, "iris").status_code != 404 or predict(b.base, "iris").status_code != 404:
        assert time.time() - t0 < 1.0, "the delete made through C still served after 1 s"
        time.sleep(0.02)


def test_30_jobs_round_robin_succeed_once_dense_versions(cluster):
    url, ds = cluster()
    with open(data("iris_train.csv"), "rb") as f:
        iris = f.read()
    jobs = [train(ds[i % 3].base, "rr", content=iris, params={"epochs": 3, "seed": i})["id"]
            for i in range(30)]
    versions = []
    for k, jid in enumerate(jobs):
        j = wait_job(ds[(k + 1) % 3].base, jid, timeout=180)  # read through another replica
        assert j["status"] == "succeeded", j
        versions.append(j["model_version"])
    assert sorted(versions) == list(range(1, 31))  # each job exactly one version, dense
    rows = pg_sql(url, "SELECT status, COUNT(*) FROM jobs GROUP BY status")
    assert rows == ["succeeded|30"]
    assert pg_sql(url, "SELECT COUNT(*) FROM model_versions") == ["30"]
    assert pg_sql(url, "SELECT COUNT(*) FROM dataset_chunks") == ["0"]  # dropped at the end


def test_sigkill_the_replica_running_a_long_job(cluster):
    url, (a, b, c) = cluster()
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    job = train(a.base, "survivor", content=digits, params={"epochs": 60, "patience": 0})
    wait_epoch(a.base, job["id"], 1)
    # any replica may have claimed it (FOR UPDATE SKIP LOCKED): kill the one that holds it
    owner = pg_sql(url, "SELECT lease_owner FROM jobs WHERE id = '%s'" % job["id"])
    replicas = {"%s:%d" % (os.uname().nodename, d.port): d for d in (a, b, c)}
    assert len(owner) == 1 and owner[0] in replicas, owner
    runner = replicas[owner[0]]
    others = [d for d in (a, b, c) if d is not runner]
    runner.kill()
    j = wait_job(others[0].base, job["id"], timeout=240)  # after the lease, another trains it
    assert j["status"] == "succeeded", j
    assert j["model_version"] == 1
    assert requests.get(others[1].url("/models/survivor")).json()["versions"] == [1]
    assert pg_sql(url, "SELECT COUNT(*) FROM model_versions") == ["1"]


def test_cancel_through_another_replica_stops_the_job(cluster):
    url, (a, b, c) = cluster()
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    job = train(a.base, "long", content=digits, params=LONG)
    wait_epoch(a.base, job["id"], 1)
    t0 = time.time()
    r = requests.post(b.url("/jobs/%s/cancel" % job["id"]))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    while "job %s cancelled" % job["id"] not in a.logtext():
        assert time.time() - t0 < 2.0, "replica A still trains the job 2 s after the cancel on B"
        time.sleep(0.05)


def test_postgresql_down_predictions_stay_writes_503_then_recovery(cluster):
    url, (a, b, c) = cluster()
    job = train(a.base, "iris", data("iris_train.csv"), {"epochs": 10})
    assert wait_job(a.base, job["id"])["status"] == "succeeded"
    for d in (a, b, c):
        assert predict(d.base, "iris").status_code == 200
    failures, done = [], threading.Event()
    count = [0]

    def load(d):
        s = requests.Session()
        while not done.is_set():
            try:
                r = s.post(d.url("/models/iris/predict"), json={"instances": [IRIS_ROW]}, timeout=5)
                if r.status_code != 200:
                    failures.append((r.status_code, r.text[:200]))
                count[0] += 1
            except requests.RequestException as e:
                failures.append(str(e))

    threads = [threading.Thread(target=load, args=(d,)) for d in (a, b, c)]
    for t in threads:
        t.start()
    try:
        pg_control("stop")
        t_stop = time.time()
        time.sleep(1)
        r = requests.post(b.url("/train"), data={"model": "iris", "epochs": "2"},
                          files={"file": ("d.csv", open(data("iris_train.csv"), "rb"), "text/csv")})
        body = error_of(r, 503, "store_unavailable")
        assert r.headers.get("Retry-After"), r.headers
        assert "secret" not in body["error"]
        assert requests.get(c.url("/healthz")).json()["store"] == "down"
        time.sleep(max(0, 10 - (time.time() - t_stop)))
    finally:
        pg_control("start")
    deadline = time.time() + 15
    while requests.get(b.url("/healthz")).json().get("store") != "up" or \
            requests.get(a.url("/healthz")).json().get("store") != "up":
        assert time.time() < deadline, "the replicas did not reconnect"
        requests.get(b.url("/models"))  # a call that reaches the store
        requests.get(a.url("/models"))
        time.sleep(0.2)
    done.set()
    for t in threads:
        t.join()
    assert failures == [], failures[:5]
    assert count[0] > 100
    job = train(c.base, "iris", data("iris_train.csv"), {"epochs": 2})
    assert wait_job(a.base, job["id"])["status"] == "succeeded"


def test_bad_store_url_exits_2_without_the_password(tmp_path):
    r = subprocess.run([NEUROND, "serve", "--port", "0", "--db", str(tmp_path / "n.db"),
                        "--store", "postgresql://bob:s3cretpw@127.0.0.1:1/nodb"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    err = r.stderr.strip().splitlines()
    assert any("127.0.0.1" in line and "nodb" in line for line in err), r.stderr
    assert "s3cretpw" not in r.stderr + r.stdout


def test_newer_schema_refused(cluster, tmp_path):
    """A replica of an older release started on a database a newer one migrated: it exits 2
    with one line naming the database and both versions, and changes nothing."""
    url, _ = cluster(n=1)
    known = pg_sql(url, "SELECT MAX(version) FROM schema_migrations")[0]
    pg_sql(url, "INSERT INTO schema_migrations VALUES (999, 'future', 'now')")
    before = pg_sql(url, "SELECT version, name FROM schema_migrations ORDER BY version")
    r = subprocess.run([NEUROND, "serve", "--port", "0", "--db", str(tmp_path / "n.db"), "--store", url,
                        "--log-requests", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    lines = [line for line in r.stderr.splitlines() if not line.startswith("ts=")]
    assert len(lines) == 1, r.stderr
    db = url.rsplit("/", 1)[1]
    assert "127.0.0.1" in lines[0] and db in lines[0], lines
    assert "version 999, newer than this binary knows (%s): refusing to start" % known in lines[0], lines
    assert pg_sql(url, "SELECT version, name FROM schema_migrations ORDER BY version") == before


# test_lifecycle.py reads the SQLite file itself: SQLite only
API_ON_PG = ["test_models.py", "test_train.py", "test_predict.py"]


def test_api_suite_on_postgresql():
    """The same API tests, every daemon on PostgreSQL (--store, conftest.store_args)."""
    env = dict(os.environ, NEUROND_TEST_STORE="postgresql")
    files = [os.path.join(ROOT, "tests", "api", f) for f in API_ON_PG]
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"] + files,
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
