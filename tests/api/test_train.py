"""Training: POST /train (multipart and text/csv), the job object, errors, limits, cancel."""
import hashlib
import json
import os
import socket
import time

import pytest
import requests

from conftest import LONG, data, error_of, train, wait_epoch, wait_job


def test_train_multipart_job_object(daemon):
    path = data("iris_train.csv")
    with open(path, "rb") as f:
        content = f.read()
    r = requests.post(daemon.url("/train"), data={"model": "iris-mp", "epochs": "8", "hidden": "16,8"},
                      files={"file": ("iris.csv", content, "text/csv")})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == "/jobs/" + job["id"]
    assert job["model"] == "iris-mp"
    assert job["status"] in ("queued", "running")
    assert job["epochs"] == 8
    assert job["params"]["hidden"] == [16, 8]
    assert job["params"]["epochs"] == 8
    assert job["params"]["optimizer"] == "adam" and job["params"]["batch_size"] == 32
    assert job["dataset"] == {"rows": 120, "columns": 5,
                              "sha256": hashlib.sha256(content).hexdigest()}
    assert job["created_at"].endswith("Z") and "T" in job["created_at"]
    done = wait_job(daemon.base, job["id"])
    assert done["status"] == "succeeded", done
    assert done["progress"] == 1
    assert done["model_version"] >= 1
    assert done["error"] is None
    assert done["finished_at"] and done["started_at"]
    assert 1 <= len(done["history"]) <= 8
    h = done["history"][0]
    assert h["epoch"] == 1 and "train_loss" in h and "val_loss" in h and "seconds" in h
    assert "val_accuracy" in h
    assert "val_accuracy" in done["metrics"]
    assert done["params"]["label"] == "species"
    # the model is served at once
    card = requests.get(daemon.url("/models/iris-mp")).json()
    assert card["version"] == done["model_version"]
    assert card["job_id"] == job["id"]


def test_train_text_csv_query_params(daemon):
    with open(data("moons_train.csv"), "rb") as f:
        content = f.read()
    r = requests.post(daemon.url("/train?model=moons-csv&epochs=3&label=label"), data=content,
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["params"]["label"] == "label"
    assert job["dataset"]["rows"] == 1600 and job["dataset"]["columns"] == 3
    done = wait_job(daemon.base, job["id"])
    assert done["status"] == "succeeded", done


def test_bad_csv_400_line_column(daemon):
    rows = ["a,b,label"] + ["%d,%d,x" % (i, i) for i in range(10)]
    rows[6] = "1,2"  # physical line 7: a field is missing
    r = requests.post(daemon.url("/train"), data={"model": "bad"},
                      files={"file": ("bad.csv", "\n".join(rows) + "\n")})
    body = error_of(r, 400)
    assert body["details"]["line"] == 7, body
    assert "column" in body["details"]
    # no job was made
    jobs = requests.get(daemon.url("/jobs?model=bad")).json()["jobs"]
    assert jobs == []


def test_unknown_parameter_400(daemon):
    with open(data("iris_train.csv"), "rb") as f:
        content = f.read()
    r = requests.post(daemon.url("/train"), data={"model": "p", "epochz": "3"},
                      files={"file": ("x.csv", content)})
    body = error_of(r, 400)
    assert body["details"]["parameter"] == "epochz"
    r = requests.post(daemon.url("/train"), data={"model": "p", "epochs": "many"},
                      files={"file": ("x.csv", content)})
    body = error_of(r, 400)
    assert body["details"]["parameter"] == "epochs"


def test_missing_model_and_file_400(daemon):
    with open(data("iris_train.csv"), "rb") as f:
        content = f.read()
    body = error_of(requests.post(daemon.url("/train"), files={"file": ("x.csv", content)}), 400)
    assert body["details"]["parameter"] == "model"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "bad name!"},
                                  files={"file": ("x.csv", content)}), 400)
    assert body["details"]["parameter"] == "model"
    body = error_of(requests.post(daemon.url("/train"),
                                  files={"model": (None, "nofile"), "epochs": (None, "3")}), 400)
    assert body["details"]["parameter"] == "file"
    # a file under another name is an unknown parameter
    body = error_of(requests.post(daemon.url("/train"), data={"model": "nofile"},
                                  files={"other": ("x.csv", content)}), 400)
    assert body["details"]["parameter"] == "other"
    body = error_of(requests.post(daemon.url("/train")), 400)


def test_label_not_a_column_400(daemon):
    with open(data("iris_train.csv"), "rb") as f:
        content = f.read()
    r = requests.post(daemon.url("/train"), data={"model": "nolabel", "label": "colour"},
                      files={"file": ("x.csv", content)})
    body = error_of(r, 400)
    assert "colour" in body["error"]


def test_unsupported_media_type_415(daemon):
    r = requests.post(daemon.url("/train"), data="<xml/>", headers={"Content-Type": "application/xml"})
    body = error_of(r, 415)
    assert body["details"]["content_type"] == "application/xml"
    r = requests.post(daemon.url("/predict"), data="hello", headers={"Content-Type": "text/plain"})
    error_of(r, 415)


def raw_request(port, head, body=b"", read_timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    s.sendall(head + body)
    chunks = []
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
            if b"\r\n\r\n" in b"".join(chunks):
                text = b"".join(chunks)
                hdr, _, rest = text.partition(b"\r\n\r\n")
                for line in hdr.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            s.close()
                            return text
    except socket.timeout:
        pass
    s.close()
    return b"".join(chunks)


def test_413_by_content_length_before_the_body(make_daemon):
    d = make_daemon(["--max-upload-mb", "1", "--workers", "1"])
    # announce 50 MB, send none of it: the answer must come at once
    head = (b"POST /train?model=big HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 52428800\r\n\r\n")
    t0 = time.time()
    reply = raw_request(d.port, head)
    assert time.time() - t0 < 5
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"payload_too_large" in reply
    assert b"X-Request-Id" in reply


def test_413_chunked_counted_as_it_arrives(make_daemon):
    d = make_daemon(["--max-upload-mb", "1", "--workers", "1"])

    def body():
        yield b"a,b,label\n"
        for _ in range(300):
            yield b"1,2,x\n" * 1000  # 6 kB per chunk, 1.8 MB in all

    r = requests.post(d.url("/train?model=big"), data=body(), headers={"Content-Type": "text/csv"})
    body_json = error_of(r, 413)
    assert body_json["details"]["limit_bytes"] == 1 << 20
    # multipart too
    r = requests.post(d.url("/train"), data={"model": "big"},
                      files={"file": ("x.csv", b"a,b,label\n" + b"1,2,x\n" * 400000)})
    error_of(r, 413)
    # JSON bodies have their own 16 MiB cap; under it all is well
    assert requests.get(d.url("/healthz")).status_code == 200


def test_queue_full_429(make_daemon):
    d = make_daemon(["--workers", "1", "--queue-size", "1"])
    with open(data("digits_train.csv"), "rb") as f:
        content = f.read()
    first = train(d.base, "q1", content=content, params=LONG)
    wait_epoch(d.base, first["id"], 1)
    second = train(d.base, "q2", content=content, params=LONG)
    assert second["status"] == "queued"
    r = requests.post(d.url("/train"), data={"model": "q3"}, files={"file": ("x.csv", content)})
    body = error_of(r, 429)
    assert body["details"]["queue_size"] == 1
    # cancel the queued one: its place frees up
    r = requests.post(d.url("/jobs/%s/cancel" % second["id"]))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    third = train(d.base, "q3", content=content, params={"epochs": 1})
    for j in (first, third):
        requests.delete(d.url("/jobs/" + j["id"]))
    assert wait_job(d.base, first["id"])["status"] == "cancelled"


def test_cancel_running_and_queued_then_409(make_daemon):
    d = make_daemon(["--workers", "1"])
    with open(data("digits_train.csv"), "rb") as f:
        content = f.read()
    running = train(d.base, "c1", content=content, params=LONG)
    queued = train(d.base, "c2", content=content, params=LONG)
    wait_epoch(d.base, running["id"], 2)
    t0 = time.time()
    r = requests.delete(d.url("/jobs/" + running["id"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    # the worker lets go within a batch: the queued job starts soon after
    wait_epoch(d.base, queued["id"], 1, timeout=30)
    assert time.time() - t0 < 30
    j = requests.get(d.url("/jobs/" + running["id"])).json()
    assert j["status"] == "cancelled" and j["model_version"] is None and j["finished_at"]
    r = requests.post(d.url("/jobs/%s/cancel" % queued["id"]))
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    # cancelling again: 409 conflict
    body = error_of(requests.delete(d.url("/jobs/" + running["id"])), 409)
    error_of(requests.post(d.url("/jobs/%s/cancel" % queued["id"])), 409)
    # no model was made
    error_of(requests.get(d.url("/models/c1")), 404)
    error_of(requests.get(d.url("/models/c2")), 404)
    # a finished job cannot be cancelled either
    ok = train(d.base, "c3", data("iris_train.csv"), {"epochs": 2})
    assert wait_job(d.base, ok["id"])["status"] == "succeeded"
    error_of(requests.delete(d.url("/jobs/" + ok["id"])), 409)
    error_of(requests.delete(d.url("/jobs/nosuchjob")), 404)


def test_jobs_list_filters(daemon):
    a = train(daemon.base, "list-a", data("iris_train.csv"), {"epochs": 2})
    b = train(daemon.base, "list-b", data("iris_train.csv"), {"epochs": 2})
    wait_job(daemon.base, a["id"])
    wait_job(daemon.base, b["id"])
    jobs = requests.get(daemon.url("/jobs")).json()["jobs"]
    ids = [j["id"] for j in jobs]
    assert ids.index(b["id"]) < ids.index(a["id"])  # newest first
    only = requests.get(daemon.url("/jobs?model=list-a")).json()["jobs"]
    assert [j["id"] for j in only] == [a["id"]]
    succ = requests.get(daemon.url("/jobs?status=succeeded&limit=1")).json()["jobs"]
    assert len(succ) == 1 and succ[0]["status"] == "succeeded"
    error_of(requests.get(daemon.url("/jobs?status=bogus")), 400)
    error_of(requests.get(daemon.url("/jobs?limit=0")), 400)
    error_of(requests.get(daemon.url("/jobs/0000")), 404)


def test_job_events_stream(daemon):
    job = train(daemon.base, "events", data("iris_train.csv"), {"epochs": 4, "patience": 0})
    r = requests.get(daemon.url("/jobs/%s/events" % job["id"]), stream=True, timeout=120)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    events = []
    name = None
    for line in r.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, json.loads(line[6:])))
            if name == "done":
                break
    r.close()
    progress = [e for n, e in events if n == "progress"]
    assert [p["epoch"] for p in progress] == [1, 2, 3, 4]
    assert events[-1][0] == "done" and events[-1][1]["status"] == "succeeded"
    # a finished job: its history, then done, at once
    r = requests.get(daemon.url("/jobs/%s/events" % job["id"]), timeout=30)
    assert r.text.count("event: progress") == 4 and r.text.count("event: done") == 1


def test_upload_100mb_streams_to_disk(make_daemon, tmp_path):
    d = make_daemon(["--workers", "1"])
    # keep the only worker busy so the big job stays queued: what is measured is the upload
    with open(data("digits_train.csv"), "rb") as f:
        busy = train(d.base, "busy", content=f.read(), params=LONG)
    line = b"0.1234567,1.2345678,2.3456789,3.4567890,4.5678901,5.6789012,6.7890123,7.8901234,a\n"
    blocks = (100 * 1024 * 1024) // (len(line) * 10000) + 1
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(b"x1,x2,x3,x4,x5,x6,x7,x8,label\n")
        block = line * 10000
        for _ in range(blocks):
            f.write(block)
        f.write(b"1,2,3,4,5,6,7,8,b\n" * 100)
    size = os.path.getsize(path)
    assert size >= 100 * 1024 * 1024
    before = d.rss_kb("VmRSS")
    boundary = "neurondtestboundary"

    def body():
        yield ("--%s\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nbig\r\n" % boundary).encode()
        yield ("--%s\r\nContent-Disposition: form-data; name=\"epochs\"\r\n\r\n1\r\n" % boundary).encode()
        yield ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n"
               "Content-Type: text/csv\r\n\r\n" % boundary).encode()
        with open(path, "rb") as f:
            while True:
                c = f.read(1 << 20)
                if not c:
                    break
                yield c
        yield ("\r\n--%s--\r\n" % boundary).encode()

    r = requests.post(d.url("/train"), data=body(),
                      headers={"Content-Type": "multipart/form-data; boundary=" + boundary},
                      timeout=300)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["dataset"]["rows"] == blocks * 10000 + 100
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for c in iter(lambda: f.read(1 << 20), b""):
            h.update(c)
    assert job["dataset"]["sha256"] == h.hexdigest()
    assert job["status"] == "queued"
    peak = d.rss_kb("VmHWM")
    requests.delete(d.url("/jobs/" + job["id"]))
    requests.delete(d.url("/jobs/" + busy["id"]))
    # the daemon never held the upload: its peak stays far below the file's size
    assert peak - before < 60 * 1024, (before, peak)


def test_diverging_job_fails_without_a_model(daemon):
    job = train(daemon.base, "diverge", data("diabetes_train.csv"),
                {"optimizer": "sgd", "learning_rate": 10, "epochs": 20, "patience": 0})
    done = wait_job(daemon.base, job["id"])
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "diverged"
    assert "diverged" in done["error"]["message"]
    assert done["model_version"] is None and done["finished_at"]
    error_of(requests.get(daemon.url("/models/diverge")), 404)
