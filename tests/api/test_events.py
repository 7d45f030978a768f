"""GET /jobs/<id>/events: Server-Sent Events, checked event by event: one `progress` event
per epoch (the history row), in order, arriving while the job trains, then one `done` event
whose data is the final job object; a finished job replays its history, then `done`."""
import json
import time

import requests

from conftest import data, error_of, train


def read_events(resp):
    """(event, data, arrival time) for each event of a text/event-stream reply, to its end."""
    events, name, buf = [], None, []
    for raw in resp.iter_lines(decode_unicode=True):
        if raw == "":
            if buf:
                events.append((name or "message", json.loads("\n".join(buf)), time.time()))
            name, buf = None, []
        elif raw.startswith(":"):
            continue  # a comment (keep-alive)
        elif raw.startswith("event:"):
            name = raw[6:].strip()
        elif raw.startswith("data:"):
            buf.append(raw[5:].strip())
    return events


def check_stream(events, epochs):
    kinds = [e[0] for e in events]
    assert kinds == ["progress"] * epochs + ["done"], kinds
    rows = [e[1] for e in events[:-1]]
    assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
    for r in rows:
        assert set(r) == {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
        assert r["train_loss"] > 0 and r["val_loss"] > 0 and 0 <= r["val_accuracy"] <= 1
    done = events[-1][1]
    assert done["status"] == "succeeded" and done["epoch"] == epochs and done["progress"] == 1
    assert done["history"] == rows
    return rows, done


def test_live_events_one_per_epoch_then_done(daemon):
    # a job of a few seconds on any machine: several polls of the store see new epochs
    job = train(daemon.base, "ev-digits", data("digits_train.csv"),
                {"epochs": 40, "patience": 0, "hidden": "512,512", "batch_size": 16})
    t0 = time.time()
    with requests.get(daemon.url("/jobs/%s/events" % job["id"]), stream=True, timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/event-stream")
        assert r.headers.get("X-Request-Id")
        events = read_events(r)
    rows, done = check_stream(events, 40)
    # live: the first epochs arrived well before the end of training
    assert events[-1][2] - events[0][2] > 0.2, (events[0][2] - t0, events[-1][2] - t0)
    assert len({round(e[2], 2) for e in events}) > 3  # in several pieces, not one burst
    assert requests.get(daemon.url("/jobs/" + job["id"])).json()["history"] == rows
    assert done["model_version"] == 1


def test_finished_job_replays_history_then_done(daemon):
    job = train(daemon.base, "ev-iris", data("iris_train.csv"), {"epochs": 7, "patience": 0})
    with requests.get(daemon.url("/jobs/%s/events" % job["id"]), stream=True, timeout=60) as r:
        events = read_events(r)
    check_stream(events, 7)
    # again, now that it is finished: the same history at once, then done
    with requests.get(daemon.url("/jobs/%s/events" % job["id"]), stream=True, timeout=60) as r:
        again = read_events(r)
    assert [(k, v) for k, v, _ in again] == [(k, v) for k, v, _ in events]


def test_events_unknown_job(daemon):
    error_of(requests.get(daemon.url("/jobs/0123456789abcdef/events")), 404)
