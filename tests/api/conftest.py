"""Fixtures for the API tests: they start the real bin/neurond serve on a free loopback
port with a temporary database, wait for /readyz, and stop it at the end.

BIN (environment) is the directory holding neurond (bin, or the sanitizer build's bin).
"""
import atexit
import hashlib
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BIN", "bin")
NEUROND = os.path.join(ROOT, BIN, "neurond") if not os.path.isabs(BIN) else os.path.join(BIN, "neurond")
# the sanitizer builds (make SANITIZE=...) put their bin under build/san-*: their allocator
# keeps redzones and a quarantine of freed blocks, so memory figures are not the daemon's
SANITIZED = "san-" in BIN
DATA = os.path.join(ROOT, "tests", "data")


# Every JSON reply any test of the suite receives must be strict UTF-8 JSON (issue 17): a
# name, a parameter or a query value echoed back with bytes that are not UTF-8 fails the test
# that provoked it. Streams (the events route) are read by their tests.
_send = requests.Session.send


def _strict_json_send(self, request, **kwargs):
    resp = _send(self, request, **kwargs)
    ctype = resp.headers.get("Content-Type", "")
    if ctype.startswith("application/json") and not kwargs.get("stream") and request.method != "HEAD":
        try:
            text = resp.content.decode("utf-8", "strict")
            if text:
                json.loads(text)
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise AssertionError("%s %s: the reply is not strict UTF-8 JSON (%s): %r"
                                 % (request.method, request.url, e, resp.content[:300]))
    return resp


requests.Session.send = _strict_json_send


# ----- a throwaway PostgreSQL (scripts/pg-tmp.sh) -----
# NEUROND_TEST_STORE=postgresql runs every daemon of the suite on PostgreSQL: each --db path
# becomes its own database on one throwaway server (a restart on the same --db finds its
# data again), passed as --store. The cluster tests (test_cluster*.py) use the same server.

PG_TMP = os.path.join(ROOT, "scripts", "pg-tmp.sh")
_pg = {}


def pg_server():
    """The URL of the session's throwaway PostgreSQL, started on first use; pytest.skip with
    the reason when PostgreSQL is not installed."""
    if "url" in _pg:
        return _pg["url"]
    if "skip" in _pg:
        pytest.skip(_pg["skip"])
    d = "/tmp/neurond-api-pg-%d" % os.getpid()
    r = subprocess.run([PG_TMP, "start", d, str(os.getpid())], capture_output=True, text=True)
    if r.returncode != 0:
        _pg["skip"] = "no PostgreSQL (scripts/pg-tmp.sh exited %d: %s)" % (r.returncode, r.stderr.strip())
        pytest.skip(_pg["skip"])
    _pg.update(url=r.stdout.strip(), dir=d)
    atexit.register(lambda: subprocess.run([PG_TMP, "destroy", d], capture_output=True))
    return _pg["url"]


def pg_control(action):
    """Stops or starts the throwaway PostgreSQL (its data kept): the fault tests."""
    assert action in ("stop", "start")
    r = subprocess.run([PG_TMP, action, _pg["dir"]], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def pg_database(name):
    """A store URL for database name on the throwaway server, created when missing."""
    url = pg_server()
    base = url.rsplit("/", 1)[0]
    port = base.rsplit(":", 1)[1]
    exists = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "neurond", "-d", "neurond",
                             "-tAc", "SELECT 1 FROM pg_database WHERE datname = '%s'" % name],
                            capture_output=True, text=True)
    if exists.stdout.strip() != "1":
        r = subprocess.run(["createdb", "-h", "127.0.0.1", "-p", port, "-U", "neurond", name],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return base + "/" + name


def pg_sql(url, sql):
    """Runs one SQL text on the database of url; returns its rows as text lines."""
    base, name = url.rsplit("/", 1)
    port = base.rsplit(":", 1)[1]
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "neurond", "-d", name,
                        "-tAc", sql], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line]


ON_PG = os.environ.get("NEUROND_TEST_STORE", "") == "postgresql"
# /healthz's body: on PostgreSQL it also says the shared store is reachable
HEALTHZ_OK = {"status": "ok", "store": "up"} if ON_PG else {"status": "ok"}
# a test that opens, locks or fills the SQLite file itself: not a test of the PostgreSQL store
# (its faults are tested in test_cluster_faults.py: SIGKILL, outage, newer schema)
sqlite_only = pytest.mark.skipif(ON_PG, reason="reads or breaks the SQLite file itself; the "
                                 "PostgreSQL store's faults are tested in test_cluster_faults.py")


def store_args(db):
    """The --store flags of a daemon on db under NEUROND_TEST_STORE=postgresql, else none."""
    if not ON_PG:
        return []
    name = "api_" + hashlib.sha1(db.encode()).hexdigest()[:16]
    return ["--store", pg_database(name)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    """One neurond serve process."""

    def __init__(self, workdir, args=(), env=None, db=None):
        self.workdir = str(workdir)
        self.db = db or os.path.join(self.workdir, "neurond.db")
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.workdir, "daemon-%d.log" % int(time.time() * 1000))

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def start(self, wait=True):
        self.port = free_port()
        self.log = open(self.log_path, "ab")
        cmd = [NEUROND, "serve", "--port", str(self.port), "--db", self.db] + store_args(self.db) + self.args
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=self.log, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("neurond exited with %s:\n%s" % (self.proc.returncode, self.logtext()))
            try:
                if requests.get(self.url("/readyz"), timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("neurond not ready after %ss:\n%s" % (timeout, self.logtext()))

    def logtext(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-5000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def rss_kb(self, field="VmHWM"):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    """A shared daemon with default settings and 2 workers."""
    d = Daemon(tmp_path_factory.mktemp("shared"), ["--workers", "2"]).start()
    yield d
    rc = d.stop()
    assert rc == 0, d.logtext()


@pytest.fixture
def make_daemon(tmp_path):
    """Starts extra daemons with given flags; stops them at the end of the test."""
    started = []

    def make(args=(), env=None, db=None, wait=True):
        d = Daemon(tmp_path, args, env, db)
        started.append(d)
        return d.start(wait=wait)

    yield make
    bad = []
    for d in started:
        alive = d.proc is not None and d.proc.poll() is None
        rc = d.stop()
        if alive and rc != 0:  # a clean stop exits 0 (and the sanitizer build finds no leak)
            bad.append((rc, d.logtext()[-3000:]))
    assert bad == [], bad


# ----- helpers shared by the tests -----

def data(name):
    return os.path.join(DATA, name)


def train(base, model, path=None, params=None, content=None, expect=202):
    """POST /train as multipart; returns the reply JSON."""
    fields = {"model": model}
    fields.update({k: str(v) for k, v in (params or {}).items()})
    if content is None:
        with open(path, "rb") as f:
            content = f.read()
    r = requests.post(base + "/train", data=fields, files={"file": ("data.csv", content, "text/csv")})
    assert r.status_code == expect, r.text
    return r.json()


def wait_job(base, job_id, statuses=("succeeded", "failed", "cancelled"), timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = requests.get(base + "/jobs/" + job_id).json()
        if j["status"] in statuses:
            return j
        time.sleep(0.05)
    raise AssertionError("job %s still %s after %ss" % (job_id, j["status"], timeout))


def wait_epoch(base, job_id, epoch=1, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = requests.get(base + "/jobs/" + job_id).json()
        if j["status"] == "running" and j["epoch"] >= epoch:
            return j
        assert j["status"] in ("queued", "running"), j
        time.sleep(0.02)
    raise AssertionError("job %s did not reach epoch %d" % (job_id, epoch))


def error_of(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    assert body["code"] == (code or {
        400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
        409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
        422: "invalid_input", 429: "queue_full", 503: "not_ready"}[status])
    assert isinstance(body["details"], dict)
    assert r.headers.get("X-Request-Id")
    return body


IRIS_ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}
# a long job for cancel / queue tests: no early stopping, many epochs
LONG = {"epochs": 100000, "patience": 0, "hidden": "64"}
