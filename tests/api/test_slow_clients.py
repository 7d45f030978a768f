"""Slow clients cannot take the daemon down (issue 17, item 9): a request's headers have a
deadline (--header-timeout), its body a stall timeout and a minimum rate (--body-timeout,
--body-min-rate), and at --conn-limit a new connection evicts the oldest one waiting for
headers. The settings are given as NEUROND_* variables, so the same test runs against a
daemon that lacks them (and fails there on behaviour, not on an unknown flag).

The flood here is a saturating but small version of the issue's proof (300 slow connections
from 3 loopback addresses against a limit of 200, 15 s); `make test-slowloris` runs the full
2,000 connections from 8 addresses for 60 s (tests/api/slowloris.py)."""
import socket
import time

import requests

import slowloris


def wait_closed(sock, within, feed=None, every=0.5):
    """Seconds until the daemon closes sock (None if it has not within `within` seconds),
    sending feed[i] every `every` seconds meanwhile (a slow client keeps talking)."""
    t0 = time.time()
    sock.settimeout(every)
    i = 0
    while time.time() - t0 < within:
        try:
            got = sock.recv(4096)
            if not got:
                return time.time() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.time() - t0
        if feed is not None:
            try:
                sock.send(feed[i % len(feed):i % len(feed) + 1])
            except OSError:
                return time.time() - t0
            i += 1
    return None


def connect(port):
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_header_deadline(make_daemon):
    d = make_daemon(env={"NEUROND_HEADER_TIMEOUT": "2"})
    with connect(d.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        took = wait_closed(s, 6, feed=b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert took is not None, "a header a byte at a time kept the connection past the deadline"
    assert 1.5 < took < 4, took
    # a kept-alive connection waiting for its next request counts the same
    with connect(d.port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"200 OK" in s.recv(4096)
        took = wait_closed(s, 6)
    assert took is not None and 1.5 < took < 4, took
    assert requests.get(d.url("/healthz")).status_code == 200


def test_body_stall_and_minimum_rate(make_daemon):
    d = make_daemon(env={"NEUROND_BODY_TIMEOUT": "2", "NEUROND_BODY_MIN_RATE": "1000"})
    head = (b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")
    with connect(d.port) as s:  # no byte of the body at all
        s.sendall(head + b"{")
        took = wait_closed(s, 6)
    assert took is not None and 1.5 < took < 4, took
    with connect(d.port) as s:  # 5 bytes a second: below the rate once the grace is over
        s.sendall(head + b"{")
        took = wait_closed(s, 8, feed=b" ", every=0.2)
    assert took is not None and 1.5 < took < 5, took
    # a body at 2,500 bytes a second for 3 s (well past the grace) is read whole and answered
    body = b'{"model": "absent", "instances": []' + b" " * 7465 + b"}"
    with connect(d.port) as s:
        s.sendall(head.replace(b"100000", str(len(body)).encode()))
        for i in range(0, len(body), 500):
            s.sendall(body[i:i + 500])
            time.sleep(0.2)
        s.settimeout(5)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 4"), reply[:100]  # the handler's answer, no model
    assert b'"code"' in reply


def test_idle_connection_evicted_at_the_limit(make_daemon):
    d = make_daemon(env={"NEUROND_CONN_LIMIT": "4", "NEUROND_CONN_PER_IP": "0"})
    idle = []
    for _ in range(4):
        s = connect(d.port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"200 OK" in s.recv(4096)
        idle.append(s)
        time.sleep(0.05)
    # a fifth client is served: the connection idle longest made room
    for _ in range(3):
        r = requests.get(d.url("/healthz"), headers={"Connection": "close"}, timeout=5)
        assert r.status_code == 200
    assert wait_closed(idle[0], 2) is not None, "the oldest idle connection was kept"
    for s in idle:
        s.close()


def test_slow_flood_leaves_others_served(make_daemon):
    d = make_daemon(env={"NEUROND_CONN_LIMIT": "200", "NEUROND_HEADER_TIMEOUT": "3",
                         "NEUROND_BODY_TIMEOUT": "3"})
    loris, ordinary = slowloris.attack(d.port, n=300, seconds=15, n_addresses=3, warmup=3)
    assert loris.opened >= 300
    assert loris.closed_by_server >= 100, "the daemon closed no slow connection"
    assert ordinary.failures == [], ordinary.failures[:5]
    assert len(ordinary.latencies) > 100
    assert ordinary.p99_ms() < 50, ordinary.p99_ms()
    assert requests.get(d.url("/healthz")).status_code == 200
    with open(d.log_path, encoding="utf-8", errors="replace") as f:
        assert "slow or surplus connections closed" in f.read()
