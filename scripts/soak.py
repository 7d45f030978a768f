#!/usr/bin/python3
"""Soak test for neurond (`make soak`; not part of `make test`).

Starts bin/neurond on a free loopback port with a fresh database, warms up, then runs a
mixed load from many client threads for the given time: predictions (most of the traffic),
training jobs, cancels, pins and deletes. At the end every accepted job must reach a final
state (none lost), no reply may be a 5xx, and the daemon's RSS at the end must be within
the allowed growth of its RSS after warm-up. Prints the figures and exits non-zero when a
check fails.
    scripts/soak.py [--minutes 10] [--clients 12] [--warmup 60] [--bin bin]
"""
import argparse
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
IRIS = open(os.path.join(ROOT, "tests", "data", "iris_train.csv"), "rb").read()
ROW = [5.1, 3.5, 1.4, 0.2]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Soak:
    def __init__(self, base):
        self.base = base
        self.lock = threading.Lock()
        self.status = collections.Counter()  # (kind, status) -> n
        self.accepted = []                    # job ids answered 202
        self.errors = []                      # 5xx and transport errors
        self.stop = threading.Event()

    def note(self, kind, r):
        with self.lock:
            self.status[(kind, r.status_code)] += 1
            if r.status_code >= 500:
                self.errors.append((kind, r.status_code, r.text[:200]))

    def train(self, s, model, params):
        fields = {"model": model}
        fields.update(params)
        r = s.post(self.base + "/train", data=fields, files={"file": ("iris.csv", IRIS)}, timeout=60)
        self.note("train", r)
        if r.status_code == 202:
            with self.lock:
                self.accepted.append(r.json()["id"])
            return r.json()["id"]
        return None

    def client(self, n):
        rnd = random.Random(n)
        s = requests.Session()
        while not self.stop.is_set():
            x = rnd.random()
            try:
                if x < 0.80:
                    k = rnd.randint(1, 20)
                    r = s.post(self.base + "/models/soak/predict",
                               json={"instances": [ROW] * k}, timeout=60)
                    self.note("predict", r)
                elif x < 0.85:
                    self.train(s, "soak", {"epochs": str(rnd.randint(2, 6)), "hidden": "16"})
                elif x < 0.89:
                    jid = self.train(s, "scratch%d" % n, {"epochs": "100000", "patience": "0"})
                    if jid:
                        time.sleep(rnd.random() * 0.5)
                        r = s.post(self.base + "/jobs/%s/cancel" % jid, timeout=60)
                        self.note("cancel", r)
                elif x < 0.94:
                    card = s.get(self.base + "/models/soak", timeout=60)
                    self.note("get", card)
                    if card.status_code == 200:
                        v = rnd.choice(card.json()["versions"] + [None])
                        r = s.put(self.base + "/models/soak/serving", json={"version": v}, timeout=60)
                        self.note("pin", r)
                elif x < 0.97:
                    r = s.get(self.base + "/models/scratch%d" % n, timeout=60)
                    self.note("get", r)
                    if r.status_code == 200 and rnd.random() < 0.5:
                        r = s.delete(self.base + "/models/scratch%d" % n, timeout=60)
                    elif r.status_code == 200:
                        r = s.delete(self.base + "/models/scratch%d/versions/%d" % (n, r.json()["version"]), timeout=60)
                    self.note("delete", r)
                    self.train(s, "scratch%d" % n, {"epochs": "3"})
                else:
                    r = s.get(self.base + rnd.choice(["/jobs?limit=20", "/models", "/metrics", "/healthz"]), timeout=60)
                    self.note("read", r)
            except requests.RequestException as e:
                with self.lock:
                    self.errors.append(("transport", 0, str(e)[:200]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--warmup", type=float, default=60)
    ap.add_argument("--bin", default=os.environ.get("BIN", "bin"))
    ap.add_argument("--max-growth", type=float, default=0.10)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="neurond-soak-")
    port = free_port()
    log = open(os.path.join(work, "daemon.log"), "wb")
    cmd = [os.path.join(ROOT, a.bin, "neurond"), "serve", "--port", str(port), "--db",
           os.path.join(work, "neurond.db"), "--workers", "2", "--queue-size", "32",
           "--log-requests", "0"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=log)
    base = "http://127.0.0.1:%d" % port
    for _ in range(300):
        try:
            if requests.get(base + "/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    soak = Soak(base)
    s = requests.Session()
    first = soak.train(s, "soak", {"epochs": "5", "hidden": "16"})
    while s.get(base + "/jobs/" + first).json()["status"] not in ("succeeded", "failed"):
        time.sleep(0.1)
    threads = [threading.Thread(target=soak.client, args=(i,)) for i in range(a.clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    time.sleep(a.warmup)
    rss_warm = rss_kb(proc.pid)
    n_warm = sum(soak.status.values())
    print("soak: warm-up %.0f s done: RSS %d KiB after %d requests" % (a.warmup, rss_warm, n_warm), flush=True)
    samples = []
    end = t0 + a.warmup + a.minutes * 60
    while time.time() < end:
        time.sleep(min(30, max(0.1, end - time.time())))
        samples.append(rss_kb(proc.pid))
        print("soak: %4.0f s: RSS %d KiB, %d requests, %d errors" % (
            time.time() - t0, samples[-1], sum(soak.status.values()), len(soak.errors)), flush=True)
    soak.stop.set()
    for t in threads:
        t.join()
    rss_end = rss_kb(proc.pid)
    # every accepted job reaches a final state
    final = collections.Counter()
    lost = []
    deadline = time.time() + 300
    for jid in soak.accepted:
        while True:
            r = s.get(base + "/jobs/" + jid, timeout=60)
            if r.status_code != 200:
                lost.append((jid, r.status_code))
                break
            st = r.json()["status"]
            if st in ("succeeded", "failed", "cancelled"):
                final[st] += 1
                break
            if time.time() > deadline:
                lost.append((jid, st))
                break
            time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(120)
    total = sum(soak.status.values())
    by_status = collections.Counter()
    for (kind, st), n in soak.status.items():
        by_status[st] += n
    growth = (rss_end - rss_warm) / float(rss_warm)
    print("soak: %.1f min after %.0f s warm-up, %d clients: %d requests (%.0f/s)" % (
        a.minutes, a.warmup, a.clients, total, total / (time.time() - t0)))
    print("soak: by kind: %s" % ", ".join("%s %d=%d" % (k, st, n) for (k, st), n in sorted(soak.status.items())))
    print("soak: by status: %s" % dict(sorted(by_status.items())))
    print("soak: jobs accepted %d: %s; lost %d" % (len(soak.accepted), dict(final), len(lost)))
    print("soak: RSS after warm-up %d KiB, at the end %d KiB (%+.1f%%), max sample %d KiB" % (
        rss_warm, rss_end, growth * 100, max(samples + [rss_end])))
    print("soak: 5xx/transport errors %d; daemon exit %d; log %s" % (len(soak.errors), rc, log.name))
    for e in soak.errors[:10]:
        print("soak: error", e)
    ok = not soak.errors and not lost and growth <= a.max_growth and rc == 0
    print("soak: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
