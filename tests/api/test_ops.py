"""Operations: health, readiness, metrics, request ids, routing errors, auth, flags."""
import os
import sqlite3
import subprocess
import time

import requests

from conftest import data, error_of, HEALTHZ_OK, NEUROND, sqlite_only, train, wait_job


def test_healthz(daemon):
    r = requests.get(daemon.url("/healthz"))
    assert r.status_code == 200
    assert r.json() == HEALTHZ_OK
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"


def test_livez_is_healthz(daemon):
    r = requests.get(daemon.url("/livez"))
    assert r.status_code == 200
    assert r.json() == requests.get(daemon.url("/healthz")).json()


def test_readyz(daemon):
    r = requests.get(daemon.url("/readyz"))
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


def test_request_id_generated_and_echoed(daemon):
    a = requests.get(daemon.url("/healthz")).headers["X-Request-Id"]
    b = requests.get(daemon.url("/healthz")).headers["X-Request-Id"]
    assert a and b and a != b
    r = requests.get(daemon.url("/healthz"), headers={"X-Request-Id": "trace-123.abc"})
    assert r.headers["X-Request-Id"] == "trace-123.abc"
    # on errors too
    r = requests.get(daemon.url("/nope"), headers={"X-Request-Id": "err-1"})
    assert r.headers["X-Request-Id"] == "err-1"


def test_unknown_path_404(daemon):
    body = error_of(requests.get(daemon.url("/no/such/thing")), 404)
    assert "/no/such/thing" in body["error"]


def test_method_not_allowed_has_allow(daemon):
    r = requests.put(daemon.url("/jobs"))
    error_of(r, 405)
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    r = requests.post(daemon.url("/models/x"))
    error_of(r, 405)
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "DELETE"}
    r = requests.get(daemon.url("/train"))
    error_of(r, 405)
    assert r.headers["Allow"] == "POST"


def test_metrics(daemon):
    requests.get(daemon.url("/healthz"))
    requests.get(daemon.url("/nope"))
    # a request is counted when libmicrohttpd reports it complete, which can follow the
    # client's read of the reply: scrape until /nope shows
    for _ in range(200):
        r = requests.get(daemon.url("/metrics"))
        if 'route="unmatched",status="404"' in r.text:
            break
        time.sleep(0.05)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for name in ("neurond_http_requests_total", "neurond_http_request_duration_seconds_bucket",
                 "neurond_predictions_total", "neurond_jobs{status=\"queued\"}",
                 "neurond_queue_depth", "neurond_models_loaded",
                 "neurond_training_samples_per_second"):
        assert name in text, name
    line = [l for l in text.splitlines()
            if l.startswith('neurond_http_requests_total{route="GET /healthz",status="200"}')]
    assert line and int(line[0].split()[-1]) >= 1
    assert 'route="unmatched",status="404"' in text


def test_help_lists_every_flag_with_defaults():
    out = subprocess.run([NEUROND, "serve", "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    for flag, env, default in (("--bind", "NEUROND_BIND", "127.0.0.1"),
                               ("--port", "NEUROND_PORT", "8080"),
                               ("--db", "NEUROND_DB", "./data/neurond.db"),
                               ("--workers", "NEUROND_WORKERS", "0"),
                               ("--api-key", "NEUROND_API_KEY", None),
                               ("--predict-key", "NEUROND_PREDICT_KEY", None),
                               ("--max-upload-mb", "NEUROND_MAX_UPLOAD_MB", "256"),
                               ("--max-instances", "NEUROND_MAX_INSTANCES", "10000"),
                               ("--queue-size", "NEUROND_QUEUE_SIZE", "64")):
        assert flag in out.stdout and env in out.stdout, flag
        if default:
            assert "default: " + default in out.stdout, flag


def test_bad_flag_refused(tmp_path):
    out = subprocess.run([NEUROND, "serve", "--port", "notanumber", "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "--port" in out.stderr


def test_flag_wins_over_environment(make_daemon):
    # NEUROND_MAX_INSTANCES=1 but the flag says 3: 3 instances pass, 4 do not.
    d = make_daemon(["--max-instances", "3"], env={"NEUROND_MAX_INSTANCES": "1"})
    r = requests.post(d.url("/predict"), json={"model": "m", "instances": [{}, {}, {}, {}]})
    error_of(r, 413)
    r = requests.post(d.url("/predict"), json={"model": "m", "instances": [{}, {}, {}]})
    error_of(r, 404)  # passes the count check, then there is no model


def test_environment_used_without_flag(make_daemon):
    d = make_daemon([], env={"NEUROND_MAX_INSTANCES": "1"})
    r = requests.post(d.url("/predict"), json={"model": "m", "instances": [{}, {}]})
    error_of(r, 413)


def test_newer_schema_refused(tmp_path):
    db = str(tmp_path / "future.db")
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)")
    con.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future', 'x')")
    con.commit()
    con.close()
    out = subprocess.run([NEUROND, "serve", "--port", "0", "--db", db], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 1
    assert "newer than this binary" in out.stderr


@sqlite_only
def test_restart_keeps_schema_and_data(make_daemon, tmp_path):
    d = make_daemon(["--workers", "1"])
    job = train(d.base, "keep", data("iris_train.csv"), {"epochs": 3})
    wait_job(d.base, job["id"])
    assert d.stop() == 0
    con = sqlite3.connect(d.db)
    versions = [r[0] for r in con.execute("SELECT version FROM schema_migrations")]
    con.close()
    d2 = make_daemon(["--workers", "1"], db=d.db)
    con = sqlite3.connect(d.db)
    assert [r[0] for r in con.execute("SELECT version FROM schema_migrations")] == versions
    con.close()
    assert requests.get(d2.url("/models/keep")).status_code == 200


def test_auth(make_daemon):
    d = make_daemon(["--api-key", "admin-secret", "--predict-key", "reader"])
    # open endpoints
    assert requests.get(d.url("/healthz")).status_code == 200
    assert requests.get(d.url("/metrics")).status_code == 200
    # no key / wrong key
    r = requests.get(d.url("/models"))
    error_of(r, 401)
    assert r.headers.get("WWW-Authenticate") == "Bearer"
    error_of(requests.get(d.url("/models"), headers={"Authorization": "Bearer nope"}), 401)
    admin = {"Authorization": "Bearer admin-secret"}
    reader = {"Authorization": "Bearer reader"}
    assert requests.get(d.url("/models"), headers=admin).status_code == 200
    assert requests.get(d.url("/models"), headers=reader).status_code == 200
    # the predict key may not train, delete or pin
    with open(data("iris_train.csv"), "rb") as f:
        body = f.read()
    r = requests.post(d.url("/train"), headers=reader, data={"model": "a"},
                      files={"file": ("x.csv", body)})
    error_of(r, 401)
    error_of(requests.delete(d.url("/models/a"), headers=reader), 401)
    r = requests.post(d.url("/train"), headers=admin, data={"model": "a", "epochs": "2"},
                      files={"file": ("x.csv", body)})
    assert r.status_code == 202
    # the predict key may read and predict
    assert requests.get(d.url("/jobs/" + r.json()["id"]), headers=reader).status_code == 200


@sqlite_only
def test_not_ready_while_the_store_is_locked(make_daemon, tmp_path):
    # another process holds the database: the daemon serves /healthz, says 503 elsewhere,
    # and turns ready once it can migrate
    import sqlite3 as sq
    import time
    db = str(tmp_path / "locked.db")
    con = sq.connect(db, isolation_level=None)
    con.execute("CREATE TABLE other (x)")
    con.execute("BEGIN EXCLUSIVE")
    d = make_daemon(["--workers", "1"], db=db, wait=False)
    deadline = time.time() + 10
    while True:
        try:
            if requests.get(d.url("/healthz"), timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.time() < deadline
        time.sleep(0.05)
    body = error_of(requests.get(d.url("/readyz")), 503)
    assert body["code"] == "not_ready"
    error_of(requests.get(d.url("/models")), 503)
    assert requests.get(d.url("/metrics")).status_code == 200
    con.execute("COMMIT")
    con.close()
    d.wait_ready()
    assert requests.get(d.url("/models")).json() == {"models": []}


def test_uri_and_headers_too_large(daemon):
    # past the per-connection memory limit libmicrohttpd answers itself (414 / 431)
    import socket
    for req, status in ((b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
                        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 +
                         b"\r\n\r\n", b"431")):
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
        try:
            s.sendall(req)
        except OSError:
            pass
        reply = s.recv(200)
        s.close()
        assert reply.startswith(b"HTTP/1.1 " + status), reply
    assert requests.get(daemon.url("/healthz")).status_code == 200
