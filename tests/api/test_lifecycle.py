"""The daemon under load and across stops: concurrent clients while jobs train, SIGKILL
during training (the job runs again, the database stays sound), SIGTERM with requests in
flight (none is cut off; running jobs go back to queued)."""
import os
import signal
import sqlite3
import threading
import time

import requests

from conftest import data, IRIS_ROW, LONG, sqlite_only, train, wait_epoch, wait_job


def integrity_ok(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def test_50_clients_predict_while_two_jobs_train(make_daemon):
    d = make_daemon(["--workers", "2", "--threads", "4"])
    job = train(d.base, "load", data("iris_train.csv"), {"epochs": 20})
    assert wait_job(d.base, job["id"])["status"] == "succeeded"
    rows = [IRIS_ROW, [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    expected = requests.post(d.url("/predict"), json={"model": "load", "instances": rows}).json()
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    t1 = train(d.base, "bg1", content=digits, params={"epochs": 30, "patience": 0})
    t2 = train(d.base, "bg2", content=digits, params={"epochs": 30, "patience": 0})
    failures = []
    done = [0]
    lock = threading.Lock()
    stop_at = time.time() + 6

    def client():
        s = requests.Session()
        while time.time() < stop_at:
            try:
                r = s.post(d.url("/predict"), json={"model": "load", "instances": rows}, timeout=30)
                if r.status_code != 200 or r.json() != expected:
                    failures.append((r.status_code, r.text[:200]))
            except requests.RequestException as e:
                failures.append(repr(e))
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == [], failures[:5]
    assert done[0] >= 50
    # the two jobs trained at the same time, undisturbed
    for t in (t1, t2):
        j = requests.get(d.url("/jobs/" + t["id"])).json()
        assert j["status"] in ("running", "succeeded"), j
        assert j["epoch"] >= 1
    for t in (t1, t2):
        requests.delete(d.url("/jobs/" + t["id"]))


def test_delete_model_while_predicting(make_daemon):
    d = make_daemon(["--workers", "1"])
    job = train(d.base, "gone", data("iris_train.csv"), {"epochs": 3})
    wait_job(d.base, job["id"])
    bad = []
    stop_at = time.time() + 2

    def client():
        s = requests.Session()
        while time.time() < stop_at:
            r = s.post(d.url("/predict"), json={"model": "gone", "instances": [IRIS_ROW]})
            if r.status_code not in (200, 404):
                bad.append(r.status_code)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    assert requests.delete(d.url("/models/gone")).status_code == 204
    for t in threads:
        t.join()
    assert bad == []
    assert requests.post(d.url("/predict"), json={"model": "gone", "instances": [IRIS_ROW]}).status_code == 404


@sqlite_only
def test_sigkill_during_training_then_restart(make_daemon):
    d = make_daemon(["--workers", "1"])
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    job = train(d.base, "survivor", content=digits, params={"epochs": 250, "patience": 0})
    queued = train(d.base, "survivor2", data("iris_train.csv"), {"epochs": 3})
    wait_epoch(d.base, job["id"], 1)
    d.kill()
    assert d.proc.returncode == -signal.SIGKILL
    assert integrity_ok(d.db)
    con = sqlite3.connect(d.db)
    st = dict(con.execute("SELECT id, status FROM jobs").fetchall())
    con.close()
    assert st[job["id"]] == "running" and st[queued["id"]] == "queued"
    d2 = make_daemon(["--workers", "1"], db=d.db)
    j = wait_job(d2.base, job["id"], timeout=180)
    assert j["status"] == "succeeded", j
    assert j["model_version"] == 1
    assert [h["epoch"] for h in j["history"]] == list(range(1, len(j["history"]) + 1))
    assert wait_job(d2.base, queued["id"])["status"] == "succeeded"
    assert requests.get(d2.url("/models/survivor")).json()["versions"] == [1]
    assert d2.stop() == 0
    assert integrity_ok(d.db)


@sqlite_only
def test_sigterm_finishes_requests_in_flight(make_daemon):
    d = make_daemon(["--workers", "1"])
    job = train(d.base, "term", data("iris_train.csv"), {"epochs": 3})
    wait_job(d.base, job["id"])
    with open(data("digits_train.csv"), "rb") as f:
        digits = f.read()
    long_job = train(d.base, "term-long", content=digits, params=LONG)
    wait_epoch(d.base, long_job["id"], 1)
    with open(data("iris_test.csv"), "rb") as f:
        csv_rows = f.read().splitlines(keepends=True)
    results = []
    started = threading.Barrier(11)

    def slow_upload():
        # a CSV prediction whose body arrives over ~1.5 s: in flight when SIGTERM lands
        def body():
            yield csv_rows[0]
            started.wait()
            for row in csv_rows[1:]:
                time.sleep(0.05)
                yield row
        try:
            r = requests.post(d.url("/predict?model=term"), data=body(),
                              headers={"Content-Type": "text/csv"}, timeout=60)
            results.append((r.status_code, len(r.text.splitlines())))
        except requests.RequestException as e:
            results.append(repr(e))

    threads = [threading.Thread(target=slow_upload) for _ in range(10)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(0.2)
    d.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert results == [(200, 31)] * 10, results
    assert d.proc.wait(60) == 0
    assert "stopped" in d.logtext()
    # the running job went back to queued, and runs again at the next start
    con = sqlite3.connect(d.db)
    status = con.execute("SELECT status FROM jobs WHERE id = ?", (long_job["id"],)).fetchone()[0]
    con.close()
    assert status == "queued"
    assert integrity_ok(d.db)
    d2 = make_daemon(["--workers", "1"], db=d.db)
    wait_epoch(d2.base, long_job["id"], 1)
    assert requests.delete(d2.url("/jobs/" + long_job["id"])).status_code == 200
