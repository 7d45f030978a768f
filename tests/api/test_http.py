"""HTTP as real clients speak it: HEAD on every GET route (RFC 9110 9.3.2), replies that keep
the connection (so pipelined requests are not lost), and malformed framing answered in the
API's JSON error shape wherever libmicrohttpd lets the daemon choose (docs/operations.md says
what remains in libmicrohttpd's hands)."""
import ctypes
import ctypes.util
import http.client
import json
import os
import re
import socket
import subprocess

import pytest
import requests

from conftest import data, HEALTHZ_OK, ROOT, train, wait_job


def read_reply(f, head=False):
    """Reads one HTTP/1.1 reply from a socket file: (status, headers (lower-case), body)."""
    line = f.readline()
    assert line.startswith(b"HTTP/1.1 "), line
    status = int(line.split()[1])
    headers = {}
    while True:
        line = f.readline()
        assert line, "the connection closed inside the headers"
        if line in (b"\r\n", b"\n"):
            break
        k, v = line.decode("latin-1").split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = b""
    if not head and "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    return status, headers, body


def exchange(port, raw, replies, heads=(), timeout=5):
    """Sends raw bytes on one connection and reads `replies` replies (indices in heads are
    replies to HEAD); returns them and whether the daemon then closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        f = s.makefile("rb")
        out = [read_reply(f, i in heads) for i in range(replies)]
        s.settimeout(0.5)
        try:
            while f.read1(4096) != b"":  # libmicrohttpd's own pages may say less than they send
                pass
            closed = True
        except socket.timeout:
            closed = False
        return out, closed


def concrete_get_paths(base):
    """One real path for every GET route of the router table (a model and a job exist)."""
    job = train(base, "head-iris", data("iris_train.csv"), {"epochs": 3})
    wait_job(base, job["id"])
    with open(os.path.join(ROOT, "server", "router.c")) as f:
        patterns = re.findall(r'X\("GET", "([^"]+)"', f.read())
    assert len(patterns) > 15, patterns
    values = iter([])
    paths = []
    for p in patterns:
        if p.startswith("/jobs/"):
            values = iter([job["id"]])
        elif p.startswith("/ui/"):
            values = iter(["app.js"])
        else:
            values = iter(["head-iris", "1"])
        paths.append(re.sub(r"\*", lambda m: next(values), p))
    return paths


def test_head_on_every_get_route(daemon):
    for path in concrete_get_paths(daemon.base):
        g = requests.get(daemon.url(path))
        h = requests.head(daemon.url(path))
        assert h.status_code == g.status_code, (path, h.status_code, g.status_code)
        assert h.content == b"", path
        assert h.headers.get("X-Request-Id"), path
        assert h.headers.get("Content-Type") == g.headers.get("Content-Type"), path
        if path not in ("/metrics",) and not path.endswith("/events"):
            assert h.headers["Content-Length"] == str(len(g.content)), path


def test_head_with_http_client_keeps_the_connection(daemon):
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    c.request("HEAD", "/healthz")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b""
    assert r.getheader("Content-Length") == str(len(json.dumps(HEALTHZ_OK, separators=(",", ":"))))
    assert r.getheader("Content-Type").startswith("application/json")
    assert r.getheader("X-Request-Id")
    c.request("GET", "/healthz")  # the same connection
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read()) == HEALTHZ_OK
    c.close()


def test_curl_head(daemon):
    p = subprocess.run(["curl", "-sS", "-I", daemon.url("/v2/health/live")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("HTTP/1.1 200"), p.stdout
    assert any(l.lower().startswith("x-request-id:") for l in lines), p.stdout
    assert any(l.lower().startswith("content-length:") for l in lines), p.stdout


def test_pipelined_head_then_get(daemon):
    raw = (b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    (h, g), closed = exchange(daemon.port, raw, 2, heads=(0,))
    assert h[0] == 200 and h[1]["content-length"] == str(len(g[2])) and h[1]["x-request-id"]
    assert g[0] == 200 and json.loads(g[2]) == HEALTHZ_OK
    assert not closed


def test_error_replies_keep_the_connection(daemon):
    # a 405, a 404 and a 401-free read: each reply leaves the pipelined request behind it
    raw = (b"GET /train HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /no/such HTTP/1.1\r\nHost: t\r\n\r\n"
           b"HEAD /models/absent HTTP/1.1\r\nHost: t\r\n\r\n"
           b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    (a, b, c, d), closed = exchange(daemon.port, raw, 4, heads=(2,))
    assert a[0] == 405 and a[1]["allow"] == "POST" and json.loads(a[2])["code"] == "method_not_allowed"
    assert b[0] == 404 and json.loads(b[2])["code"] == "not_found"
    assert c[0] == 404 and int(c[1]["content-length"]) > 0
    assert d[0] == 200
    assert not closed


def test_allow_lists_head_with_get(daemon):
    r = requests.put(daemon.url("/jobs"))
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert set(r.json()["details"]["allow"].split(", ")) == {"GET", "HEAD"}


# ----- framing -----

def mhd_version():
    """The version of the libmicrohttpd the daemon loads, as a tuple (MHD_get_version)."""
    lib = ctypes.CDLL(ctypes.util.find_library("microhttpd") or "libmicrohttpd.so.12")
    lib.MHD_get_version.restype = ctypes.c_char_p
    return tuple(int(x) for x in lib.MHD_get_version().decode().split(".")[:3])


# libmicrohttpd 1.0 (Debian trixie) refuses these itself, before any callback of the daemon;
# 0.9.75 (bookworm) hands them to the daemon, which answers in JSON
LIBRARY_REFUSES = {"unknown-coding", "no-host"} if mhd_version() >= (1, 0, 0) else set()

def json_error(reply, status, code):
    st, headers, body = reply
    assert st == status, (st, body)
    assert headers["content-type"].startswith("application/json")
    assert headers.get("x-request-id")
    doc = json.loads(body)
    assert doc["code"] == code and doc["error"]
    return doc


@pytest.mark.parametrize("raw,status,code,word", [
    (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}", 400, "bad_request", "Content-Length"),
    (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
     b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
     400, "bad_request", "Transfer-Encoding"),
    (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n{}", 501, "not_implemented", "gzip"),
    (b"GET /healthz HTTP/1.1\r\n\r\n", 400, "bad_request", "Host"),
], ids=["two-lengths", "length-and-chunked", "unknown-coding", "no-host"])
def test_framing_faults_answered_in_json(daemon, raw, status, code, word, request):
    (reply,), closed = exchange(daemon.port, raw, 1)
    if request.node.callspec.id in LIBRARY_REFUSES:
        assert reply[0] in (400, 501) and closed, reply
        assert requests.get(daemon.url("/healthz")).status_code == 200
        return
    doc = json_error(reply, status, code)
    assert word in doc["error"]
    assert closed  # the rest of the stream cannot be trusted: the connection ends


@pytest.mark.parametrize("raw", [
    b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
], ids=["length-abc", "length-negative", "bad-chunk-size"])
def test_framing_libmicrohttpd_refuses_itself(daemon, raw):
    # refused by libmicrohttpd before any callback of the daemon: a 400 and a closed
    # connection (its own HTML body; docs/operations.md), and the daemon serves on
    (reply,), closed = exchange(daemon.port, raw, 1)
    assert reply[0] == 400
    assert closed
    assert requests.get(daemon.url("/healthz")).status_code == 200
