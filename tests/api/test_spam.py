"""POST /spam-score and /spam-score/batch (API.md "Spam score").

The quality floor is measured through the endpoint: the spam model is trained over HTTP on
80% of the bundled SpamAssassin training file with default parameters, and the other 20% is
scored through /spam-score/batch: accuracy >= 98% and ROC AUC >= 0.995. A raw message's score
does not depend on header order or line endings, and hostile messages get a score or a clear
4xx, never a crash or a hang.
"""
import csv
import io
import lzma
import os
import random
import subprocess

import pytest
import requests

from conftest import NEUROND, ROOT, data, error_of, train, wait_job

csv.field_size_limit(1 << 30)
EXAMPLES = os.path.join(ROOT, "examples", "spam")


def auc(scores, labels):
    """ROC AUC by ranks, ties averaged."""
    pairs = sorted(zip(scores, labels))
    ranks = [0.0] * len(pairs)
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        for k in range(i, j):
            ranks[k] = (i + j + 1) / 2.0
        i = j
    pos = sum(1 for _, y in pairs if y)
    neg = len(pairs) - pos
    rsum = sum(r for r, (_, y) in zip(ranks, pairs) if y)
    return (rsum - pos * (pos + 1) / 2.0) / (pos * neg)


@pytest.fixture(scope="module")
def spam(daemon, tmp_path_factory):
    """Trains `spam` on 80% of the spam file (neurond split, seed 42); yields the held-out rows."""
    d = tmp_path_factory.mktemp("spam")
    full = d / "all.csv"
    with lzma.open(data("spamassassin_train.csv.xz")) as src, open(full, "wb") as dst:
        dst.write(src.read())
    subprocess.run([NEUROND, "split", str(full), str(d / "train.csv"), str(d / "test.csv"),
                    "--test", "0.2", "--seed", "42"], check=True, capture_output=True)
    job = train(daemon.base, "spam", str(d / "train.csv"))
    done = wait_job(daemon.base, job["id"], timeout=600)
    assert done["status"] == "succeeded", done
    with open(d / "test.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return rows


def test_quality_through_http(daemon, spam):
    scores, labels, right = [], [], 0
    for i in range(0, len(spam), 250):
        chunk = spam[i:i + 250]
        r = requests.post(daemon.url("/spam-score/batch"),
                          json={"messages": [{"text": row["text"]} for row in chunk]})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == len(chunk)
        for row, res in zip(chunk, results):
            is_spam = row["label"] == "spam"
            scores.append(res["score"])
            labels.append(is_spam)
            right += res["spam"] == is_spam
    accuracy = right / len(spam)
    area = auc(scores, labels)
    print("spam-score over HTTP: %d messages, accuracy %.4f, AUC %.4f" % (len(spam), accuracy, area))
    assert len(spam) == 967
    assert accuracy >= 0.98
    assert area >= 0.995


def test_reply_shape_and_forms(daemon, spam):
    row = next(r for r in spam if r["label"] == "spam")
    r = requests.post(daemon.url("/spam-score"), json={"text": row["text"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "spam" and body["version"] >= 1
    assert 0.0 <= body["score"] <= 1.0
    assert body["threshold"] == 0.5 and body["threshold_source"] == "default"
    assert body["spam"] == (body["score"] >= 0.5)
    # subject + body gives the same text as the decoded layout "subject\n\nbody"
    subject, _, rest = row["text"].partition("\n\n")
    r2 = requests.post(daemon.url("/spam-score"), json={"subject": subject, "body": rest})
    assert r2.status_code == 200
    assert r2.json()["score"] == body["score"]
    # the same message as text/plain
    r3 = requests.post(daemon.url("/spam-score"), data=row["text"].encode(),
                       headers={"Content-Type": "text/plain; charset=utf-8"})
    assert r3.status_code == 200
    assert r3.json()["score"] == body["score"]


def split_headers(raw):
    head, sep, body = raw.partition("\n\n")
    groups = []
    for line in head.split("\n"):
        if line[:1] in (" ", "\t") and groups:
            groups[-1] += "\n" + line
        else:
            groups.append(line)
    return groups, body


def test_raw_mail_invariant_to_header_order_and_line_endings(daemon, spam):
    for name in ("spam.eml", "ham.eml"):
        with open(os.path.join(EXAMPLES, name), encoding="utf-8", errors="surrogateescape") as f:
            raw = f.read().replace("\r\n", "\n")
        groups, body = split_headers(raw)
        first = groups[0] if groups[0].startswith("From ") else None
        rest = groups[1:] if first else groups
        shuffled = list(reversed(rest))
        random.Random(7).shuffle(shuffled)
        variants = [raw,
                    "\n".join(([first] if first else []) + shuffled) + "\n\n" + body,
                    raw.replace("\n", "\r\n")]
        scores = []
        for v in variants:
            r = requests.post(daemon.url("/spam-score"),
                              data=v.encode("utf-8", "surrogateescape"),
                              headers={"Content-Type": "message/rfc822"})
            assert r.status_code == 200, r.text
            scores.append(r.json()["score"])
        assert scores[0] == scores[1] == scores[2], (name, scores)
    # the example spam is spam and the example ham is not
    for name, want in (("spam.eml", True), ("ham.eml", False)):
        with open(os.path.join(EXAMPLES, name), "rb") as f:
            r = requests.post(daemon.url("/spam-score"), data=f.read(),
                              headers={"Content-Type": "message/rfc822"})
        assert r.json()["spam"] is want, (name, r.json())


def mime(parts, boundary="b0undary"):
    out = ["From: a@example.com", "To: b@example.com", "Subject: many parts",
           "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="%s"' % boundary, ""]
    for p in parts:
        out += ["--" + boundary, "Content-Type: text/plain; charset=us-ascii", "", p]
    out.append("--%s--" % boundary)
    return "\n".join(out) + "\n"


HEAD = "From: a@example.com\nTo: b@example.com\nSubject: hello\nMIME-Version: 1.0\n"


HOSTILE = [
    ("20 MB message", HEAD + "Content-Type: text/plain\n\n" + ("buy cheap pills now " * 1048576)),
    ("1,000 MIME parts", mime(["part %d free money" % i for i in range(1000)])),
    ("1,001 MIME parts", mime(["part %d" % i for i in range(1001)])),
    ("malformed base64", HEAD + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
                         "SGVsbG8g!!!d29y$$bGQ=\n===\n@@@@\n"),
    ("unknown charset", HEAD + "Content-Type: text/plain; charset=x-no-such-charset\n\nhello there\n"),
    ("no body", HEAD),
    ("binary junk", "".join(chr(random.Random(3).randrange(1, 256)) for _ in range(20000))),
]


@pytest.mark.parametrize("name,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_messages(daemon, spam, name, message):
    r = requests.post(daemon.url("/spam-score"), data=message.encode("utf-8", "surrogateescape"),
                      headers={"Content-Type": "message/rfc822"}, timeout=60)
    assert r.status_code == 200 or 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    if r.status_code == 200:
        assert 0.0 <= r.json()["score"] <= 1.0
    else:
        assert r.json()["error"]
    # the daemon is still there
    assert requests.get(daemon.url("/healthz")).status_code == 200


def test_errors(daemon, spam):
    r = requests.post(daemon.url("/spam-score?model=nospam"), json={"text": "hi"})
    body = error_of(r, 404)
    assert "train" in body["error"]
    error_of(requests.post(daemon.url("/spam-score"), json={"txt": "hi"}), 400)
    error_of(requests.post(daemon.url("/spam-score"), data=b"{not json",
                           headers={"Content-Type": "application/json"}), 400)
    error_of(requests.post(daemon.url("/spam-score"), data=b"a,b\n1,2\n",
                           headers={"Content-Type": "text/csv"}), 415)
    error_of(requests.post(daemon.url("/spam-score/batch"), json={"messages": "x"}), 400)
    too_many = {"messages": [{"text": "x"}] * 1001}
    error_of(requests.post(daemon.url("/spam-score/batch"), json=too_many), 413)
    bad = requests.post(daemon.url("/spam-score/batch"), json={"messages": [{"text": "a"}, 5]})
    assert error_of(bad, 400)["details"]["index"] == 1
    # a model that is not a binary text classifier cannot score
    job = train(daemon.base, "irisspam", data("iris_train.csv"), {"epochs": 5})
    assert wait_job(daemon.base, job["id"])["status"] == "succeeded"
    error_of(requests.post(daemon.url("/spam-score?model=irisspam"), json={"text": "hi"}), 422)


def test_threshold_param(daemon, spam, tmp_path):
    sample = os.path.join(EXAMPLES, "spam_sample.csv")
    job = train(daemon.base, "spamfpr", sample, {"target_fpr": "0.001", "epochs": 20})
    done = wait_job(daemon.base, job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    r = requests.post(daemon.url("/spam-score?model=spamfpr"), json={"text": "Subject: hi\n\nhello"})
    assert r.status_code == 200
    assert r.json()["threshold_source"] == "target_fpr"
    assert 0.0 <= r.json()["threshold"] <= 1.0
    job = train(daemon.base, "spamthr", sample, {"threshold": "0.9", "epochs": 5})
    assert wait_job(daemon.base, job["id"], timeout=300)["status"] == "succeeded"
    r = requests.post(daemon.url("/spam-score?model=spamthr"), json={"text": "hello"})
    assert r.json()["threshold"] == 0.9 and r.json()["threshold_source"] == "threshold"


def test_example_script(make_daemon):
    """examples/spam/score.sh, the README's three commands, against a fresh daemon."""
    d = make_daemon(["--workers", "1"])
    out = subprocess.run(["sh", os.path.join(EXAMPLES, "score.sh"), d.base],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    replies = [line for line in out.stdout.splitlines() if line.startswith('{"model":"spam"')]
    assert len(replies) == 3, out.stdout
    assert '"spam":true' in replies[0] and '"spam":false' in replies[1], replies
