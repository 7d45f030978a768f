"""Slow clients against a running neurond, and an ordinary client measuring it meanwhile.

Loopback only. N connections from several loopback addresses (127.0.0.2, 127.0.0.3, ...)
send their request a byte a second: three in four dribble the headers, one in four sends
whole headers announcing a body and then dribbles the body. A connection the daemon closes
is opened again, so the daemon faces N slow connections for the whole run. Meanwhile an
ordinary client on another address (127.0.0.99) sends GET /healthz on a new connection every
20 ms and times each request, connect to last byte.

Used by tests/api/test_slow_clients.py (a small run in `make test`) and by
`make test-slowloris`: python3 tests/api/slowloris.py starts bin/neurond with its defaults
(or attacks --port P) with 2,000 connections from 8 addresses for 60 s.
"""
import argparse
import errno
import http.client
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HEADERS = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 4000 + b"\r\n\r\n"
BODY_HEAD = (b"POST /predict HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
             b"Content-Length: 100000\r\n\r\n")


def raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, n))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


class Slow:
    """One slow connection: what it still has to send, a byte a tick."""

    def __init__(self, sock, body):
        self.sock = sock
        self.body = body
        self.sent = 0
        if body:
            sock.setblocking(True)  # a fresh loopback connection: whole headers at once
            try:
                sock.sendall(BODY_HEAD)
            finally:
                sock.setblocking(False)


class Loris:
    def __init__(self, port, n, addresses, tick=1.0):
        self.port = port
        self.n = n
        self.addresses = addresses
        self.tick = tick
        self.conns = {}
        self.sel = selectors.DefaultSelector()
        self.opened = 0
        self.closed_by_server = 0
        self.refused = 0
        self.stop = threading.Event()

    def open_one(self, i):
        addr = self.addresses[i % len(self.addresses)]
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((addr, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.port))
            s.setblocking(False)
            c = Slow(s, body=(i % 4 == 3))
        except OSError:
            s.close()
            self.refused += 1
            return
        self.conns[s.fileno()] = c
        self.sel.register(s, selectors.EVENT_READ, c)
        self.opened += 1

    def drop(self, c):
        self.sel.unregister(c.sock)
        del self.conns[c.sock.fileno()]
        c.sock.close()

    def run(self, seconds):
        deadline = time.time() + seconds
        i = 0
        while time.time() < deadline and not self.stop.is_set():
            t0 = time.time()
            # top up to n connections (a bounded number per tick keeps the ticks short)
            for _ in range(min(self.n - len(self.conns), 400)):
                self.open_one(i)
                i += 1
            # a byte each
            for c in list(self.conns.values()):
                data = BODY_HEAD if c.body else HEADERS
                byte = b"x" if c.body else data[c.sent % len(data):c.sent % len(data) + 1]
                try:
                    c.sock.send(byte)
                    c.sent += 1
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        self.closed_by_server += 1
                        self.drop(c)
            # what the daemon closed
            while True:
                left = self.tick - (time.time() - t0)
                events = self.sel.select(timeout=max(0, left))
                for key, _ in events:
                    c = key.data
                    # the end of the stream (or a reply): the daemon is done with it
                    self.closed_by_server += 1
                    self.drop(c)
                if left <= 0:
                    break
        for c in list(self.conns.values()):
            self.drop(c)


class Ordinary:
    """GET /healthz on a new connection every `every` seconds from `address`."""

    def __init__(self, port, address, every=0.02):
        self.port = port
        self.address = address
        self.every = every
        self.latencies = []
        self.failures = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5,
                                               source_address=(self.address, 0))
                c.request("GET", "/healthz")
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status != 200 or b"ok" not in body:
                    self.failures.append("status %d" % r.status)
                else:
                    self.latencies.append(time.perf_counter() - t0)
            except OSError as e:
                self.failures.append(repr(e))
            time.sleep(max(0, self.every - (time.perf_counter() - t0)))

    def p99_ms(self):
        if not self.latencies:
            return float("inf")
        xs = sorted(self.latencies)
        return 1000 * xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def attack(port, n, seconds, n_addresses=8, warmup=None):
    """Runs the slow clients and the ordinary client together; returns both."""
    raise_fd_limit(n + 512)
    addresses = ["127.0.0.%d" % (2 + i) for i in range(n_addresses)]
    loris = Loris(port, n, addresses)
    ordinary = Ordinary(port, "127.0.0.99")
    lt = threading.Thread(target=loris.run, args=(seconds,))
    lt.start()
    # the ordinary client starts once the slow ones are in place
    time.sleep(warmup if warmup is not None else min(5, seconds / 4))
    ot = threading.Thread(target=ordinary.run)
    ot.start()
    lt.join()
    ordinary.stop.set()
    ot.join()
    return loris, ordinary


def start_daemon(neurond, workdir):
    """Starts `neurond serve` with its default settings on a free loopback port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    log = open(os.path.join(workdir, "neurond.log"), "ab")
    proc = subprocess.Popen([neurond, "serve", "--port", str(port), "--log-requests", "0",
                             "--db", os.path.join(workdir, "neurond.db")], stdout=log, stderr=log)
    for _ in range(300):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/readyz")
            if c.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("neurond did not become ready")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, help="a running daemon's port")
    ap.add_argument("--neurond", default="bin/neurond",
                    help="without --port: start this binary with its defaults")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--addresses", type=int, default=8)
    a = ap.parse_args()
    raise_fd_limit(a.connections + 2048)  # the daemon started here inherits it
    proc, workdir = None, None
    port = a.port
    if port is None:
        workdir = tempfile.mkdtemp(prefix="slowloris-")
        proc, port = start_daemon(a.neurond, workdir)
    try:
        loris, ordinary = attack(port, a.connections, a.seconds, a.addresses)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
            with open(os.path.join(workdir, "neurond.log"), errors="replace") as f:
                print("".join(l for l in f if "slow or surplus" in l)[-400:], end="")
            shutil.rmtree(workdir, ignore_errors=True)
    print("slow connections: %d kept open from %d addresses for %.0f s: %d opened, %d closed "
          "by the daemon, %d refused at connect"
          % (a.connections, a.addresses, a.seconds, loris.opened, loris.closed_by_server,
             loris.refused))
    print("ordinary client: %d answered, %d failed, p99 %.1f ms"
          % (len(ordinary.latencies), len(ordinary.failures), ordinary.p99_ms()))
    ok = not ordinary.failures and ordinary.p99_ms() < 50
    print("slowloris: %s" % ("ok" if ok else "FAILED " + "; ".join(ordinary.failures[:5])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
