"""Security: API keys (constant-time compared, never logged, predict-only key limits),
key files, the loopback/--insecure rule, the start-up banner, TLS with a certificate made
at test time, and requests that try to smuggle paths or odd model names."""
import http.client
import os
import shutil
import subprocess

import pytest
import requests

from conftest import data, error_of, free_port, HEALTHZ_OK, NEUROND, ROOT, train, wait_job

ADMIN_KEY = "k-admin-7f3a9c1e5b"
READ_KEY = "k-read-2d8e4f6a0c"


def serve(args, timeout=10):
    """Runs neurond serve expecting it to refuse to start; returns (rc, output)."""
    p = subprocess.run([NEUROND, "serve", "--port", str(free_port())] + args, cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def test_every_route_class_needs_the_right_key(make_daemon):
    d = make_daemon(["--api-key", ADMIN_KEY, "--predict-key", READ_KEY, "--workers", "1"])
    admin = {"Authorization": "Bearer " + ADMIN_KEY}
    reader = {"Authorization": "Bearer " + READ_KEY}
    job = train_with(d, admin, "sec", epochs=3)
    assert wait_job_h(d, job["id"], admin)["status"] == "succeeded"
    # open: health, readiness, metrics
    for path in ("/healthz", "/readyz", "/metrics"):
        assert requests.get(d.url(path)).status_code == 200, path
    # reads and predictions: either key; nothing without one; a near-miss key is refused
    reads = [("GET", "/models"), ("GET", "/models/sec"), ("GET", "/models/sec/versions/1"),
             ("GET", "/models/sec/export"), ("GET", "/jobs"), ("GET", "/jobs/" + job["id"])]
    for method, path in reads:
        for h in (admin, reader):
            assert requests.request(method, d.url(path), headers=h).status_code == 200, (path, h)
        error_of(requests.request(method, d.url(path)), 401)
        error_of(requests.request(method, d.url(path),
                                  headers={"Authorization": "Bearer " + ADMIN_KEY[:-1]}), 401)
        error_of(requests.request(method, d.url(path),
                                  headers={"Authorization": "Bearer " + ADMIN_KEY + "x"}), 401)
        error_of(requests.request(method, d.url(path), headers={"Authorization": ADMIN_KEY}), 401)
    inst = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    for h in (admin, reader):
        assert requests.post(d.url("/models/sec/predict"), json=inst, headers=h).status_code == 200
        assert requests.post(d.url("/predict"), json=dict(inst, model="sec"),
                             headers=h).status_code == 200
    error_of(requests.post(d.url("/predict"), json=dict(inst, model="sec")), 401)
    # spam scoring is a prediction: either key (404: no spam model yet), never none
    for path, body in (("/spam-score", {"text": "cheap pills"}),
                       ("/spam-score/batch", {"messages": [{"text": "hi"}]})):
        for h in (admin, reader):
            assert requests.post(d.url(path), json=body, headers=h).status_code == 404, path
        error_of(requests.post(d.url(path), json=body), 401)
    # writes: the API key only
    export = requests.get(d.url("/models/sec/export"), headers=admin).json()
    writes = [("POST", "/models/sec/import", {"json": export}),
              ("PUT", "/models/sec/serving", {"json": {"version": 1}}),
              ("POST", "/jobs/" + job["id"] + "/cancel", {}),
              ("DELETE", "/jobs/" + job["id"], {}),
              ("DELETE", "/models/sec/versions/1", {}),
              ("DELETE", "/models/sec", {})]
    for method, path, kw in writes:
        error_of(requests.request(method, d.url(path), headers=reader, **kw), 401)
        error_of(requests.request(method, d.url(path), **kw), 401)
    r = requests.post(d.url("/train"), headers=reader, data={"model": "x"},
                      files={"file": ("x.csv", b"a,b\n1,2\n3,4\n")})
    error_of(r, 401)
    # nothing was changed by the refused calls
    card = requests.get(d.url("/models/sec"), headers=admin).json()
    assert card["versions"] == [1]
    assert requests.put(d.url("/models/sec/serving"), json={"version": 1},
                        headers=admin).status_code == 200
    assert requests.delete(d.url("/models/sec"), headers=admin).status_code == 204
    # the keys never reach the log
    log = fulllog(d)
    assert ADMIN_KEY not in log and READ_KEY not in log
    assert "API key required" in log


def fulllog(d):
    with open(d.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def train_with(d, headers, model, epochs):
    with open(data("iris_train.csv"), "rb") as f:
        body = f.read()
    r = requests.post(d.url("/train"), headers=headers, data={"model": model, "epochs": str(epochs)},
                      files={"file": ("iris.csv", body)})
    assert r.status_code == 202, r.text
    return r.json()


def wait_job_h(d, job_id, headers, timeout=60):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = requests.get(d.url("/jobs/" + job_id), headers=headers).json()
        if j["status"] in ("succeeded", "failed", "cancelled"):
            return j
        time.sleep(0.05)
    raise AssertionError(j)


def test_key_files_and_environment(make_daemon, tmp_path):
    kf = tmp_path / "api.key"
    kf.write_text(ADMIN_KEY + "\n")
    pf = tmp_path / "predict.key"
    pf.write_text(READ_KEY + "\r\n")
    d = make_daemon(["--api-key-file", str(kf), "--predict-key-file", str(pf)])
    assert requests.get(d.url("/models"), headers={"Authorization": "Bearer " + ADMIN_KEY}).status_code == 200
    assert requests.get(d.url("/models"), headers={"Authorization": "Bearer " + READ_KEY}).status_code == 200
    error_of(requests.delete(d.url("/models/x"), headers={"Authorization": "Bearer " + READ_KEY}), 401)
    assert ADMIN_KEY not in fulllog(d) and READ_KEY not in fulllog(d)
    e = make_daemon(env={"NEUROND_API_KEY": ADMIN_KEY})
    error_of(requests.get(e.url("/models")), 401)
    assert requests.get(e.url("/models"), headers={"Authorization": "bearer " + ADMIN_KEY}).status_code == 200


def test_bad_key_settings_refused(tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    db = ["--db", str(tmp_path / "x.db")]
    for args, flag in ((["--api-key-file", str(empty)], "--api-key-file"),
                       (["--api-key-file", str(tmp_path / "missing")], "--api-key-file"),
                       (["--predict-key", READ_KEY], "--predict-key"),
                       (["--api-key", "same", "--predict-key", "same"], "--predict-key"),
                       (["--api-key", "has space"], "--api-key"),
                       (["--tls-cert", "x.pem"], "--tls-")):
        rc, out = serve(db + args)
        assert rc == 2, (args, out)
        assert flag in out, (args, out)
        assert "has space" not in out and "same" not in out.replace("--predict-key must", "")


def test_non_loopback_bind_needs_a_key_or_insecure(make_daemon, tmp_path):
    rc, out = serve(["--db", str(tmp_path / "x.db"), "--bind", "0.0.0.0"])
    assert rc == 2 and "--insecure" in out and "API key" in out, out
    rc, out = serve(["--db", str(tmp_path / "x.db"), "--bind", "::"])
    assert rc == 2 and "--insecure" in out, out
    # with --insecure it starts and says it is unauthenticated
    d = make_daemon(["--bind", "0.0.0.0", "--insecure"])
    assert requests.get(d.url("/models")).status_code == 200
    assert "UNAUTHENTICATED" in d.logtext()
    # with a key it starts without --insecure
    k = make_daemon(["--bind", "0.0.0.0", "--api-key", ADMIN_KEY])
    error_of(requests.get(k.url("/models")), 401)
    assert "UNAUTHENTICATED" not in k.logtext()


def test_loopback_without_key_warns(make_daemon):
    d = make_daemon()
    assert "UNAUTHENTICATED" in d.logtext()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_tls_self_signed(make_daemon, tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    d = make_daemon(["--tls-cert", cert, "--tls-key", key, "--api-key", ADMIN_KEY], wait=False)
    base = "https://127.0.0.1:%d" % d.port
    import time
    deadline = time.time() + 30
    while True:
        try:
            if requests.get(base + "/readyz", verify=cert, timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.time() < deadline and d.proc.poll() is None, d.logtext()
        time.sleep(0.05)
    assert requests.get(base + "/healthz", verify=cert).json() == HEALTHZ_OK
    h = {"Authorization": "Bearer " + ADMIN_KEY}
    with open(data("iris_train.csv"), "rb") as f:
        r = requests.post(base + "/train", headers=h, verify=cert, data={"model": "tls", "epochs": "3"},
                          files={"file": ("iris.csv", f.read())})
    assert r.status_code == 202, r.text
    # the certificate is checked: an unknown CA is refused by the client
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + "/healthz", timeout=5)
    # plain HTTP on the TLS port gets no answer
    with pytest.raises(requests.RequestException):
        requests.get("http://127.0.0.1:%d/healthz" % d.port, timeout=3)
    assert "listening on https://" in d.logtext()


def test_bad_tls_material_refused(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    rc, out = serve(["--db", str(tmp_path / "x.db"), "--tls-cert", str(bad), "--tls-key", str(bad)])
    assert rc != 0 and "TLS" in out, out


def test_paths_and_names_from_requests_are_not_trusted(daemon):
    base = daemon.base
    # model names: validated, never a path
    for name in ("..", ".hidden", "a" * 65, "x%2F..%2F..%2Fetc", "a%00b", "a b", "%C3%A9"):
        # http.client sends the path as written (requests would fold "/models/.." into "/")
        conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
        conn.request("GET", "/models/" + name.replace(" ", "%20"))
        resp = conn.getresponse()
        resp.read()
        conn.close()
        assert resp.status in (400, 404), (name, resp.status)
        assert resp.getheader("Content-Type").startswith("application/json")
    r = requests.post(base + "/train", data={"model": "../../etc/passwd"},
                      files={"file": ("../../../../tmp/evil.csv", open(data("iris_train.csv"), "rb").read())})
    error_of(r, 400)
    assert r.json()["details"] == {"parameter": "model"}
    # a client-chosen file name is ignored: the spool name is the server's (the upload is
    # accepted here, so the file name does reach the daemon)
    r = requests.post(base + "/train", data={"model": "fname", "epochs": "2"},
                      files={"file": ("../../../../tmp/evil.csv", open(data("iris_train.csv"), "rb").read())})
    assert r.status_code == 202, r.text
    assert not os.path.exists("/tmp/evil.csv")
    assert wait_job(base, r.json()["id"])["status"] == "succeeded"
    # SQL text in a filter is data, not SQL
    r = requests.get(base + "/jobs", params={"model": "x' OR '1'='1"})
    assert r.status_code in (200, 400)
    if r.status_code == 200:
        assert r.json()["jobs"] == []
    r = requests.get(base + "/jobs", params={"status": "running' --"})
    assert r.status_code == 400
