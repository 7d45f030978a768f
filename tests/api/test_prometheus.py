"""GET /metrics: Prometheus text format, parsed and linted by promtool (Debian's prometheus
package: `promtool check metrics`), and its numbers checked against what the test did:
requests by route and status, latency histograms, predictions total and by model (/predict
and KServe infer), jobs by status, queue depth, models loaded, training rows per second,
store errors."""
import re
import sqlite3
import subprocess
import time

import requests

from conftest import data, error_of, IRIS_ROW, sqlite_only, train, wait_job

PROMTOOL = "/usr/bin/promtool"


def promtool(text):
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                          text=True, timeout=30)


def samples(text):
    """name{labels} -> value, for every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)', line)
        assert m, line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def scrape(d):
    r = requests.get(d.url("/metrics"))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    p = promtool(r.text)
    assert p.returncode == 0, p.stdout + p.stderr  # parses, and no lint complaint
    assert p.stdout.strip() == "" and p.stderr.strip() == "", p.stdout + p.stderr
    return r.text, samples(r.text)


def scrape_settled(d, key, value, seconds=10):
    """Scrapes until samples[key] == value: a request is counted when libmicrohttpd reports it
    complete, which may come a moment after the client has read the reply (seen under TSan)."""
    deadline = time.monotonic() + seconds
    while True:
        text, s = scrape(d)
        if s.get(key) == value or time.monotonic() > deadline:
            return text, s
        time.sleep(0.05)


def test_promtool_can_fail():
    assert promtool('# TYPE x counter\nx{a="1" 3\n').returncode == 1  # a parse error
    assert promtool("foo_total 3\n").returncode != 0  # lint: no HELP


def test_metrics_count_what_happened(make_daemon):
    d = make_daemon(["--workers", "1"])
    text, s = scrape(d)
    assert s["neurond_predictions_total"] == 0
    assert s["neurond_store_errors_total"] == 0
    assert s['neurond_jobs{status="succeeded"}'] == 0

    job = train(d.base, "pm-iris", data("iris_train.csv"), {"epochs": 20, "patience": 0})
    assert wait_job(d.base, job["id"])["status"] == "succeeded"
    for _ in range(3):
        r = requests.post(d.url("/models/pm-iris/predict"), json={"instances": [IRIS_ROW, IRIS_ROW]})
        assert r.status_code == 200
    r = requests.post(d.url("/v2/models/pm-iris/infer"),
                      json={"inputs": [{"name": "input", "shape": [5, 4], "datatype": "FP32", "data": [1.0] * 20}]})
    assert r.status_code == 200
    error_of(requests.post(d.url("/predict"), json={"model": "absent", "instances": [IRIS_ROW]}), 404)
    error_of(requests.get(d.url("/no/such/route")), 404)

    text, s = scrape_settled(d, 'neurond_http_requests_total{route="unmatched",status="404"}', 1)
    assert s['neurond_http_requests_total{route="POST /models/*/predict",status="200"}'] == 3
    assert s['neurond_http_requests_total{route="POST /v2/models/*/infer",status="200"}'] == 1
    assert s['neurond_http_requests_total{route="POST /predict",status="404"}'] == 1
    assert s['neurond_http_requests_total{route="POST /train",status="202"}'] == 1
    assert s['neurond_http_requests_total{route="unmatched",status="404"}'] == 1
    assert s["neurond_predictions_total"] == 3 * 2 + 5
    assert s['neurond_model_predictions_total{model="pm-iris"}'] == 11
    # a histogram per route: cumulative buckets ending in +Inf == _count
    lab = 'route="POST /models/*/predict"'
    buckets = [(k, v) for k, v in s.items() if k.startswith("neurond_http_request_duration_seconds_bucket{" + lab)]
    assert len(buckets) == 16
    values = [v for _, v in buckets]
    assert values == sorted(values)
    assert buckets[-1][0].endswith('le="+Inf"}') and buckets[-1][1] == 3
    assert s["neurond_http_request_duration_seconds_count{%s}" % lab] == 3
    assert 0 < s["neurond_http_request_duration_seconds_sum{%s}" % lab] < 3 * 10
    # jobs, queue, workers, models, training
    assert s['neurond_jobs{status="succeeded"}'] == 1
    assert s['neurond_jobs{status="queued"}'] == 0 and s["neurond_queue_depth"] == 0
    assert s["neurond_workers_busy"] == 0
    assert s["neurond_models_loaded"] >= 1
    card = requests.get(d.url("/models/pm-iris")).json()
    assert s["neurond_training_samples_total"] == card["metrics"]["epochs_run"] * card["metrics"]["train_rows"]
    assert s["neurond_training_samples_per_second"] > 0
    assert s["neurond_training_seconds_total"] > 0
    for fam in ("neurond_http_requests_total", "neurond_http_request_duration_seconds",
                "neurond_predictions_total", "neurond_model_predictions_total", "neurond_jobs",
                "neurond_queue_depth", "neurond_models_loaded", "neurond_training_samples_per_second",
                "neurond_store_errors_total"):
        assert "# HELP %s " % fam in text and "# TYPE %s " % fam in text, fam


@sqlite_only
def test_store_error_counted(make_daemon, tmp_path):
    d = make_daemon(["--workers", "1"])
    job = train(d.base, "pm-broken", data("iris_train.csv"), {"epochs": 3})
    assert wait_job(d.base, job["id"])["status"] == "succeeded"
    db = sqlite3.connect(d.db, timeout=10)
    db.execute("UPDATE model_versions SET blob = x'00'")  # a stored model that cannot load
    db.commit()
    db.close()
    r = requests.post(d.url("/models/pm-broken/predict"), json={"instances": [IRIS_ROW]})
    assert r.status_code == 500, r.text
    _, s = scrape_settled(d, 'neurond_http_requests_total{route="POST /models/*/predict",status="500"}', 1)
    assert s["neurond_store_errors_total"] == 1
    assert s['neurond_http_requests_total{route="POST /models/*/predict",status="500"}'] == 1
