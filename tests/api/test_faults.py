"""Faults: SIGKILL at random moments during training and model writes, a full disk during an
upload and during a model write, a locked database (SQLITE_BUSY). After each: the database
passes PRAGMA integrity_check, every accepted job ends succeeded (re-run after a restart),
no model version is half there, and the daemon keeps serving predictions."""
import os
import random
import sqlite3
import subprocess
import threading
import time

import pytest
import requests

from conftest import data, error_of, sqlite_only, train, wait_epoch, wait_job

IRIS = open(data("iris_train.csv"), "rb").read()
ROW = [5.1, 3.5, 1.4, 0.2]


def integrity(db):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def check_versions_whole(base, db):
    """Every stored version loads and predicts; versions match the succeeded jobs."""
    con = sqlite3.connect(db, timeout=30)
    rows = con.execute("SELECT m.name, v.version, v.job_id, length(v.blob) FROM model_versions v "
                       "JOIN models m ON m.id = v.model_id").fetchall()
    jobs = dict(con.execute("SELECT id, status FROM jobs").fetchall())
    con.close()
    for name, version, job_id, n in rows:
        assert n > 0
        if job_id is not None:
            assert jobs.get(job_id) == "succeeded", (name, version, job_id, jobs.get(job_id))
        card = requests.get(base + "/models/%s/versions/%d" % (name, version))
        assert card.status_code == 200, card.text
        row = [0.5] * len(card.json()["inputs"])
        r = requests.post(base + "/models/%s/predict" % name, json={"version": version, "instances": [row]})
        assert r.status_code == 200, (name, version, r.text)
    return rows


@sqlite_only
def test_sigkill_during_20_jobs_and_model_writes(make_daemon):
    rnd = random.Random(7)
    d = make_daemon(["--workers", "2"])
    db = d.db
    digits = open(data("digits_train.csv"), "rb").read()
    jobs = []
    for i in range(20):
        # short jobs, so that kills land in model writes too, and a few longer ones
        epochs = rnd.choice([5, 20, 60, 150])
        jobs.append(train(d.base, "kill%d" % (i % 4), content=digits,
                          params={"epochs": epochs, "patience": 0, "hidden": "32"})["id"])
    kills = 0
    current = d
    for _ in range(12):
        time.sleep(rnd.uniform(0.05, 1.0))
        current.kill()
        kills += 1
        assert integrity(db) == "ok"
        current = make_daemon(["--workers", "2"], db=db)
        st = [requests.get(current.url("/jobs/" + j)).json()["status"] for j in jobs]
        print("after kill %d: %s" % (kills, sorted(st)))
        assert all(s in ("queued", "running", "succeeded") for s in st), st
        if all(s == "succeeded" for s in st):
            break
    for j in jobs:
        job = wait_job(current.base, j, timeout=300)
        assert job["status"] == "succeeded", job
        assert job["progress"] == 1
    rows = check_versions_whole(current.base, db)
    # one version per succeeded job, numbered 1..n per model without holes
    assert len(rows) == 20
    for m in range(4):
        vs = sorted(v for name, v, _, _ in rows if name == "kill%d" % m)
        assert vs == list(range(1, len(vs) + 1)), vs
    assert current.stop() == 0
    assert integrity(db) == "ok"


def can_mount():
    return os.geteuid() == 0 and subprocess.run(["mount", "--version"], capture_output=True).returncode == 0


@pytest.fixture
def small_fs(tmp_path):
    """A small tmpfs (root only); yields its path."""
    if not can_mount():
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount tmpfs: %s" % r.stderr)
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)])


def spool_settled(path, timeout=5.0):
    """Waits until the daemon has removed the temporary files of its last request from path
    (it does so after the reply is sent), so that the free space measured next stays free."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        left = [f for f in os.listdir(path) if f != "filler"]
        if not left:
            return
        time.sleep(0.05)


def fill(path, leave_kb):
    """Fills the filesystem of path, leaving about leave_kb KiB free; returns the filler path."""
    spool_settled(path)
    st = os.statvfs(path)
    free = st.f_bavail * st.f_frsize
    filler = os.path.join(path, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * max(0, free - leave_kb * 1024))
    return filler


def test_disk_full_during_upload(make_daemon, small_fs, tmp_path):
    d = make_daemon(["--workers", "1", "--spool-dir", small_fs])
    j = train(d.base, "before", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    filler = fill(small_fs, 64)
    big = IRIS * 200  # ~ 1 MiB, more than is left
    r = requests.post(d.url("/train"), data={"model": "after"}, files={"file": ("x.csv", big)})
    body = error_of(r, 507, "insufficient_storage")
    assert "upload" in body["error"]
    # still serving, the earlier model intact, no job made
    r = requests.post(d.url("/models/before/predict"), json={"instances": [ROW]})
    assert r.status_code == 200
    assert [x["model"] for x in requests.get(d.url("/jobs")).json()["jobs"]] == ["before"]
    os.unlink(filler)
    j = train(d.base, "after", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    assert integrity(d.db) == "ok"


@sqlite_only
def test_disk_full_during_model_write(make_daemon, small_fs):
    db = os.path.join(small_fs, "neurond.db")
    d = make_daemon(["--workers", "1", "--db", db])
    j = train(d.base, "keep", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    imp = requests.get(d.url("/models/keep/export")).json()
    # a model bigger than what is left: the version write fails
    filler = fill(small_fs, 200)
    r = requests.post(d.url("/train"), data={"model": "big", "epochs": "2", "hidden": "1024,64"},
                      files={"file": ("x.csv", IRIS)})
    if r.status_code == 202:
        job = wait_job(d.base, r.json()["id"])
        print("big job:", job["status"], job["error"])
        assert job["status"] == "failed", job
        assert job["error"]["message"]
        assert job["error"]["code"] == "insufficient_storage", job["error"]
    else:
        error_of(r, 507, "insufficient_storage")
    # an import while the disk is (nearly) full: stored whole, or a JSON error
    r = requests.post(d.url("/models/keep/import"), json=imp)
    assert r.status_code in (201, 507), r.text
    if r.status_code != 201:
        assert r.json()["code"] == "insufficient_storage"
    # still serving the earlier model; nothing half there
    for _ in range(20):
        assert requests.post(d.url("/models/keep/predict"), json={"instances": [ROW]}).status_code == 200
    assert requests.get(d.url("/models/big")).status_code == 404
    assert requests.get(d.url("/healthz")).status_code == 200
    os.unlink(filler)
    assert integrity(db) == "ok"
    check_versions_whole(d.base, db)
    j = train(d.base, "big", content=IRIS, params={"epochs": 2, "hidden": "16"})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    assert d.stop() == 0
    assert integrity(db) == "ok"


@sqlite_only
def test_locked_database_is_retried(make_daemon):
    d = make_daemon(["--workers", "1"])
    j = train(d.base, "busy", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    con = sqlite3.connect(d.db, timeout=30, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")  # holds the write lock: the daemon's writes get SQLITE_BUSY
    results = {}

    def writer():
        r = requests.post(d.url("/train"), data={"model": "busy", "epochs": "3"},
                          files={"file": ("x.csv", IRIS)})
        results["train"] = r.status_code
        results["pin"] = requests.put(d.url("/models/busy/serving"), json={"version": 1}).status_code

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(1.5)
    # reads and predictions are not blocked by a writer (WAL)
    assert requests.post(d.url("/models/busy/predict"), json={"instances": [ROW]}).status_code == 200
    assert requests.get(d.url("/jobs")).status_code == 200
    assert results == {}, results  # the writes are waiting on the lock, not failed or done
    con.execute("COMMIT")
    con.close()
    t.join(30)
    assert results == {"train": 202, "pin": 200}, results
    jobs = requests.get(d.url("/jobs")).json()["jobs"]
    for job in jobs:
        assert wait_job(d.base, job["id"])["status"] == "succeeded"
    assert integrity(d.db) == "ok"


def fill_all(path):
    """Fills the filesystem of path to the last block (the daemon may be writing meanwhile);
    returns the filler path."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                pass
    return filler


def wait_log(d, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in d.logtext():
            return
        time.sleep(0.05)
    raise AssertionError("%r not in the log after %ss:\n%s" % (text, timeout, d.logtext()))


@sqlite_only
def test_disk_full_job_end_is_stored_once_space_is_back(make_daemon, small_fs, tmp_path):
    """A job whose model write fails on a full disk, and whose failure cannot be stored either,
    ends 'failed' (insufficient_storage) within seconds of space coming back; never stays
    'running' with an idle worker."""
    spool = tmp_path / "spool"  # the dataset is elsewhere: removing it frees nothing here
    db = os.path.join(small_fs, "neurond.db")
    d = make_daemon(["--workers", "1", "--db", db, "--spool-dir", str(spool)])
    digits = open(data("digits_train.csv"), "rb").read()
    j = train(d.base, "full", content=digits, params={"epochs": 40, "patience": 0, "hidden": "64"})
    wait_epoch(d.base, j["id"], 1)
    filler = fill_all(small_fs)
    wait_log(d, "job %s failed" % j["id"])
    time.sleep(1.0)
    job = requests.get(d.url("/jobs/" + j["id"])).json()
    assert job["status"] == "running", job  # the store could not take the failure yet
    os.unlink(filler)
    job = wait_job(d.base, j["id"], timeout=10)
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "insufficient_storage", job["error"]
    assert integrity(db) == "ok"
    # the worker is free again: the next job runs
    j2 = train(d.base, "full", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j2["id"])["status"] == "succeeded"


@sqlite_only
def test_disk_full_job_left_running_runs_again_after_restart(make_daemon, small_fs, tmp_path):
    """Stopped while its failure cannot be stored, a job is 'running' in the store; the next
    start runs it again (its dataset kept), so it does not stay 'running' without a worker."""
    spool = tmp_path / "spool"
    db = os.path.join(small_fs, "neurond.db")
    args = ["--workers", "1", "--db", db, "--spool-dir", str(spool)]
    d = make_daemon(args)
    digits = open(data("digits_train.csv"), "rb").read()
    j = train(d.base, "again", content=digits, params={"epochs": 40, "patience": 0, "hidden": "64"})
    wait_epoch(d.base, j["id"], 1)
    filler = fill_all(small_fs)
    wait_log(d, "job %s failed" % j["id"])
    assert d.stop() == 0
    os.unlink(filler)
    d2 = make_daemon(args, db=db)
    job = wait_job(d2.base, j["id"], timeout=120)
    assert job["status"] == "succeeded", job
    assert integrity(db) == "ok"


def test_delete_frees_space_on_a_full_disk(make_daemon, small_fs, tmp_path):
    """DELETE /models/<name> and /models/<name>/versions/<n> work on a full disk (the store
    keeps a reserve file for it), and the space they free inside the database is used by the
    next model once the filler is gone."""
    db = os.path.join(small_fs, "neurond.db")
    d = make_daemon(["--workers", "1", "--db", db, "--spool-dir", str(tmp_path / "spool")])
    digits = open(data("digits_train.csv"), "rb").read()
    # old v2 (~1.3 MB) is bigger than the reserve: deleting it must not rewrite its pages
    for name, hidden in (("old", "16"), ("old", "1024,256"), ("keep", "16")):
        j = train(d.base, name, content=digits, params={"epochs": 2, "hidden": hidden})
        assert wait_job(d.base, j["id"])["status"] == "succeeded"
    assert os.path.getsize(db + ".reserve") == 1 << 20
    filler = fill_all(small_fs)
    # the disk is full: writes fail...
    r = requests.put(d.url("/models/keep/serving"), json={"version": 1})
    assert r.status_code in (200, 507), r.text
    # ...but deleting works
    r = requests.delete(d.url("/models/old/versions/1"))
    assert r.status_code == 204, r.text
    r = requests.delete(d.url("/models/old"))
    assert r.status_code == 204, r.text
    assert requests.get(d.url("/models/old")).status_code == 404
    n_inputs = len(requests.get(d.url("/models/keep")).json()["inputs"])
    r = requests.post(d.url("/models/keep/predict"), json={"instances": [[0] * n_inputs]})
    assert r.status_code == 200, r.text
    assert integrity(db) == "ok"
    os.unlink(filler)
    j = train(d.base, "new", content=digits, params={"epochs": 2, "hidden": "16"})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    assert os.path.getsize(db + ".reserve") == 1 << 20  # made again once there is room
    assert d.stop() == 0
    assert integrity(db) == "ok"


def store_errors(d):
    for line in requests.get(d.url("/metrics")).text.splitlines():
        if line.startswith("neurond_store_errors_total "):
            return float(line.split()[1])
    raise AssertionError("no neurond_store_errors_total")


def test_csv_prediction_on_a_full_disk_is_507(make_daemon, small_fs, tmp_path):
    """The CSV reply is written to the spool before it is sent: when that disk is full, the
    answer is 507 insufficient_storage (not 500 internal), counted as a storage error."""
    d = make_daemon(["--workers", "1", "--spool-dir", small_fs])
    j = train(d.base, "csvfull", content=IRIS, params={"epochs": 3})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    lines = IRIS.decode().splitlines()
    body = ("\n".join([lines[0]] + lines[1:] * 8) + "\n").encode()  # ~ 24 KB; the reply ~ 2x
    assert 15000 < len(body) < 30000, len(body)
    r = requests.post(d.url("/models/csvfull/predict"), data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and len(r.content) > len(body) + 24 * 1024
    before = store_errors(d)
    filler = fill(small_fs, len(body) // 1024 + 12)  # room for the body, not for the reply
    r = requests.post(d.url("/models/csvfull/predict"), data=body, headers={"Content-Type": "text/csv"})
    body_err = error_of(r, 507, "insufficient_storage")
    assert "reply" in body_err["error"]
    assert store_errors(d) == before + 1
    os.unlink(filler)
    # a reply small enough to sit in the stdio buffer fails at the flush: the same answer
    small = ("\n".join(lines[:2]) + "\n").encode()
    filler = fill(small_fs, 4)  # one page: the body's
    r = requests.post(d.url("/models/csvfull/predict"), data=small, headers={"Content-Type": "text/csv"})
    assert "reply" in error_of(r, 507, "insufficient_storage")["error"]
    assert store_errors(d) == before + 2
    os.unlink(filler)
    r = requests.post(d.url("/models/csvfull/predict"), data=body, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200
