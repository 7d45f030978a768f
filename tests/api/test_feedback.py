"""Learning from feedback (issue 21): warm-start training (base=), feedback, retraining with
replay, the champion/challenger gate."""
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import NEUROND, data, error_of, train, wait_job


def iris_csv():
    with open(data("iris_train.csv")) as f:
        return f.read()


def trained(base, model, params=None, content=None):
    job = train(base, model, params=params, content=(content or iris_csv()).encode())
    done = wait_job(base, job["id"])
    assert done["status"] == "succeeded", done
    return done


def test_warm_start_lineage_and_defaults(daemon):
    trained(daemon.base, "warm-a", {"epochs": 40, "hidden": "8"})
    done = trained(daemon.base, "warm-a", {"base": "warm-a"})
    # the base resolved to the version it started from; the warm defaults used
    assert done["params"]["base"] == "warm-a@1"
    assert done["params"]["epochs"] == 10 and done["params"]["patience"] == 5
    assert abs(done["params"]["learning_rate"] - 0.0005) < 1e-9
    assert done["params"]["hidden"] == [8]  # the base's network, not the default
    assert len(done["history"]) <= 10
    card = requests.get(daemon.url("/models/warm-a")).json()
    assert card["version"] == 2
    assert card["base"] == "warm-a@1"
    assert card["warm_start"]["base"] == "warm-a@1"
    assert card["warm_start"]["rows"] == 120
    assert card["architecture"]["layers"] == [4, 8, 3]
    # another model may start from it, a version given
    done = trained(daemon.base, "warm-b", {"base": "warm-a@1", "epochs": 3})
    assert done["params"]["epochs"] == 3
    assert requests.get(daemon.url("/models/warm-b")).json()["base"] == "warm-a@1"


def test_warm_start_mismatch_400(daemon):
    trained(daemon.base, "warm-m", {"epochs": 5, "hidden": "4"})
    lines = iris_csv().splitlines()
    # a column the base does not know
    extra = "\n".join([lines[0] + ",colour"] + [l + ",red" for l in lines[1:]]) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", extra)}), 400)
    assert body["details"]["column"] == "colour", body
    # an input missing
    cut = "\n".join(",".join(l.split(",")[1:]) for l in lines) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", cut)}), 400)
    assert body["details"]["column"] == "sepal_length_cm", body
    # a class the base does not know: the label column and the line; the class in the message
    bad = "\n".join(lines[:3] + [lines[3].rsplit(",", 1)[0] + ",daisy"] + lines[4:]) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", bad)}), 400)
    assert body["details"]["column"] == "species" and body["details"]["line"] == 4, body
    assert "daisy" in body["error"]
    # no such base
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "nope@3"},
                                  files={"file": ("x.csv", iris_csv())}), 400)
    assert body["details"]["parameter"] == "base"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m@x"},
                                  files={"file": ("x.csv", iris_csv())}), 400)
    assert body["details"]["parameter"] == "base"
    # no job was made by any of them
    jobs = requests.get(daemon.url("/jobs?model=warm-m")).json()["jobs"]
    assert len(jobs) == 1


# ----- feedback -----

ROW = {"sepal_length_cm": 5.1, "sepal_width_cm": 3.5, "petal_length_cm": 1.4, "petal_width_cm": 0.2}


def feedback(base, model, instances, labels, expect=200):
    r = requests.post(base + "/models/%s/feedback" % model,
                      json={"instances": instances, "labels": labels})
    assert r.status_code == expect, r.text
    return r.json()


def test_feedback_store_dedup_list_delete(daemon):
    trained(daemon.base, "fb-iris", {"epochs": 20, "hidden": "8"})
    row2 = dict(ROW, sepal_length_cm=6.0)
    # the same instance twice (as an object, then as an array): stored once, the last label
    got = feedback(daemon.base, "fb-iris", [ROW, row2, list(ROW.values())],
                   ["setosa", "virginica", "versicolor"])
    assert (got["received"], got["stored"], got["updated"], got["feedback"]) == (3, 2, 1, 2), got
    assert got["model"] == "fb-iris" and got["version"] == 1
    again = feedback(daemon.base, "fb-iris", [ROW], ["versicolor"])
    assert (again["stored"], again["updated"], again["feedback"]) == (0, 1, 2)
    lst = requests.get(daemon.url("/models/fb-iris/feedback")).json()
    assert lst["count"] == 2 and len(lst["feedback"]) == 2
    first = lst["feedback"][0]
    assert first["instance"] == ROW and first["label"] == "versicolor"
    assert len(first["hash"]) == 64 and isinstance(first["holdout"], bool)
    assert first["created_at"] and first["updated_at"]
    assert lst["feedback"][1]["id"] > first["id"]
    page = requests.get(daemon.url("/models/fb-iris/feedback?limit=1&after=%d" % first["id"])).json()
    assert [f["label"] for f in page["feedback"]] == ["virginica"]
    # a CSV with the label column
    with open(data("iris_test.csv")) as f:
        text = f.read()
    r = requests.post(daemon.url("/models/fb-iris/feedback"), data=text,
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 30 and r.json()["feedback"] == 32
    # counted in /metrics
    metrics = requests.get(daemon.url("/metrics")).text
    assert "neurond_feedback_received_total" in metrics
    rows = [l for l in metrics.splitlines() if l.startswith("neurond_feedback_rows ")]
    assert rows and int(rows[0].split()[1]) >= 32
    # delete one by hash, then all
    assert requests.delete(daemon.url("/models/fb-iris/feedback?hash=" + first["hash"])).status_code == 204
    assert requests.get(daemon.url("/models/fb-iris/feedback")).json()["count"] == 31
    error_of(requests.delete(daemon.url("/models/fb-iris/feedback?hash=" + first["hash"])), 404)
    assert requests.delete(daemon.url("/models/fb-iris/feedback")).status_code == 204
    assert requests.get(daemon.url("/models/fb-iris/feedback")).json() == {
        "model": "fb-iris", "count": 0, "feedback": []}


def test_deleting_a_model_deletes_its_feedback(daemon):
    trained(daemon.base, "fb-del", {"epochs": 5, "hidden": "4"})
    got = feedback(daemon.base, "fb-del", [ROW], ["setosa"])
    assert got["feedback"] == 1
    assert requests.delete(daemon.url("/models/fb-del")).status_code == 204
    # a new model under the same name starts without the old one's feedback
    trained(daemon.base, "fb-del", {"epochs": 5, "hidden": "4"})
    assert requests.get(daemon.url("/models/fb-del/feedback")).json() == {
        "model": "fb-del", "count": 0, "feedback": []}
    assert feedback(daemon.base, "fb-del", [ROW], ["setosa"])["stored"] == 1


def test_feedback_errors(daemon):
    trained(daemon.base, "fb-err", {"epochs": 5, "hidden": "4"})
    url = daemon.url("/models/fb-err/feedback")
    body = error_of(requests.post(url, json={"instances": [ROW], "labels": ["daisy"]}), 422)
    assert body["details"] == {"field": "labels[0]", "index": 0} and "daisy" in body["error"]
    bad = dict(ROW)
    del bad["petal_width_cm"]
    body = error_of(requests.post(url, json={"instances": [ROW, bad], "labels": ["setosa"] * 2}), 422)
    assert body["details"]["index"] == 1 and body["details"]["field"].startswith("instances[1]")
    body = error_of(requests.post(url, json={"instances": [ROW], "labels": []}), 400)
    assert body["details"]["field"] == "labels"
    body = error_of(requests.post(url, json={"labels": ["setosa"]}), 400)
    assert body["details"]["field"] == "instances"
    # nothing was stored by any of them
    assert requests.get(url).json()["count"] == 0
    # a CSV whose class is unknown: its line and the label column
    r = requests.post(url, data="sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm,species\n"
                      "5.1,3.5,1.4,0.2,setosa\n5.1,3.5,1.4,0.2,rose\n", headers={"Content-Type": "text/csv"})
    body = error_of(r, 400)
    assert body["details"] == {"line": 3, "column": "species"} and "rose" in body["error"]
    error_of(requests.post(daemon.url("/models/nope/feedback"), json={"instances": [ROW], "labels": ["a"]}), 404)
    error_of(requests.get(daemon.url("/models/nope/feedback")), 404)


def test_feedback_survives_sigkill(make_daemon):
    d = make_daemon()
    trained(d.base, "fb-kill", {"epochs": 5, "hidden": "4"})
    feedback(d.base, "fb-kill", [ROW], ["virginica"])
    d.kill()
    d2 = make_daemon(db=d.db)
    lst = requests.get(d2.url("/models/fb-kill/feedback")).json()
    assert lst["count"] == 1 and lst["feedback"][0]["label"] == "virginica"
    # and its hash still dedups
    assert feedback(d2.base, "fb-kill", [ROW], ["setosa"])["updated"] == 1


# ----- retraining and the gate -----

def moons_rows(path, flip=False, n=None):
    with open(data(path)) as f:
        lines = f.read().splitlines()
    out = [lines[0]]
    for l in lines[1:n and n + 1]:
        x1, x2, y = l.split(",")
        out.append("%s,%s,%s" % (x1, x2, (1 - int(y)) if flip else y))
    return "\n".join(out) + "\n"


def post_csv(base, model, text):
    r = requests.post(base + "/models/%s/feedback" % model, data=text,
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    return r.json()


def retrain(base, model, expect=202, params=None):
    r = requests.post(base + "/models/%s/retrain" % model, json=params)
    assert r.status_code == expect, r.text
    if expect != 202:
        return r.json()
    job = r.json()
    assert r.headers["Location"] == "/jobs/" + job["id"]
    assert job["params"]["base"].startswith(model + "@")
    done = wait_job(base, job["id"])
    assert done["status"] == "succeeded", done
    return done


def test_retrain_gate_refuses_flipped_labels(daemon):
    trained(daemon.base, "rt-moons", {"epochs": 200, "hidden": "16"},
            content=moons_rows("moons_train.csv", n=300))
    # nothing to learn from yet: 409
    error_of(requests.post(daemon.url("/models/rt-moons/retrain")), 409)
    # parameters are the table's; the base is the serving version's
    for bad in ({"base": "rt-moons@1"}, {"epochs": "many"}, {"colour": 1}):
        body = error_of(requests.post(daemon.url("/models/rt-moons/retrain"), json=bad), 400)
        assert body["details"]["parameter"] == list(bad)[0]
    error_of(requests.post(daemon.url("/models/nope/retrain")), 404)
    # deliberately flipped labels: the challenger loses and is held; the old version serves on
    post_csv(daemon.base, "rt-moons", moons_rows("moons_test.csv", flip=True))
    done = retrain(daemon.base, "rt-moons", params={"epochs": 100, "learning_rate": 0.01})
    assert done["params"]["epochs"] == 100
    gate = done["metrics"]["gate"]
    assert gate["metric"] == "accuracy" and gate["champion_version"] == 1
    assert gate["promoted"] is False, json.dumps(gate)
    # the flipped labels win on the feedback's own holdout share, and lose on what the
    # champion knew (its validation rows): refused
    old = gate["validation"]
    assert old["promoted"] is False and old["rows"] == 60, json.dumps(gate)
    assert (old["challenger"], -old["challenger_log_loss"]) < (old["champion"], -old["champion_log_loss"])
    assert gate["feedback"]["rows"] + old["rows"] == gate["holdout_rows"]
    card = requests.get(daemon.url("/models/rt-moons")).json()
    assert card["version"] == 1 and card["versions"] == [1, 2]
    held = requests.get(daemon.url("/models/rt-moons/versions/2")).json()
    assert held["promoted"] is False and held["gate"] == gate and held["base"] == "rt-moons@1"
    r = requests.post(daemon.url("/models/rt-moons/predict"), json={"instances": [[1.0, 0.0]]})
    assert r.json()["version"] == 1
    # a pin overrides
    r = requests.put(daemon.url("/models/rt-moons/serving"), json={"version": 2})
    assert r.status_code == 200 and r.json()["version"] == 2
    r = requests.post(daemon.url("/models/rt-moons/predict"), json={"instances": [[1.0, 0.0]]})
    assert r.json()["version"] == 2
    requests.put(daemon.url("/models/rt-moons/serving"), json={"version": None})
    assert requests.get(daemon.url("/models/rt-moons")).json()["version"] == 1
    metrics = requests.get(daemon.url("/metrics")).text
    assert 'neurond_retrains_total{outcome="held"} ' in metrics
    # right labels: a gate verdict again, and the serving version follows it
    assert requests.delete(daemon.url("/models/rt-moons/feedback")).status_code == 204
    post_csv(daemon.base, "rt-moons", moons_rows("moons_test.csv"))
    done = retrain(daemon.base, "rt-moons")
    gate = done["metrics"]["gate"]
    assert gate["champion_version"] == 1 and done["model_version"] == 3
    serving = requests.get(daemon.url("/models/rt-moons")).json()["version"]
    assert serving == (3 if gate["promoted"] else 1), gate
    # a retrained version keeps its base's rows: retraining from it compares on the same
    # validation rows of version 1 (not on rows of the feedback)
    assert requests.put(daemon.url("/models/rt-moons/serving"), json={"version": 3}).status_code == 200
    gate = retrain(daemon.base, "rt-moons")["metrics"]["gate"]
    assert gate["champion_version"] == 3 and gate["validation"]["rows"] == 60, gate


def test_retrain_after_n_rows(make_daemon):
    d = make_daemon(args=["--retrain-after", "25"])
    trained(d.base, "rt-auto", {"epochs": 10, "hidden": "4"})
    with open(data("iris_test.csv")) as f:
        lines = f.read().splitlines()
    got = post_csv(d.base, "rt-auto", "\n".join(lines[:21]) + "\n")
    assert got["stored"] == 20 and "retrain_job" not in got
    got = post_csv(d.base, "rt-auto", "\n".join(lines[:1] + lines[21:]) + "\n")
    assert got["feedback"] == 30 and got["retrain_job"]
    done = wait_job(d.base, got["retrain_job"])
    assert done["status"] == "succeeded", done
    assert "gate" in done["metrics"] and done["params"]["base"] == "rt-auto@1"


def test_retrain_after_once_per_multiple_under_concurrent_feedback(make_daemon):
    # 24 requests of one new row each, all at once: the count crosses a multiple of 6 four times,
    # so four retrainings are queued, each by the request whose row made the multiple
    d = make_daemon(args=["--retrain-after", "6"])
    trained(d.base, "rt-race", {"epochs": 5, "hidden": "4"})
    with open(data("iris_test.csv")) as f:
        lines = f.read().splitlines()
    head, rows = lines[0], lines[1:25]
    with ThreadPoolExecutor(len(rows)) as pool:
        got = list(pool.map(lambda row: post_csv(d.base, "rt-race", head + "\n" + row + "\n"), rows))
    assert all(g["stored"] == 1 for g in got), got
    jobs = [g["retrain_job"] for g in got if "retrain_job" in g]
    assert len(jobs) == 4 and len(set(jobs)) == 4, got
    assert sorted(g["feedback"] for g in got)[-1] == 24
    listed = requests.get(d.url("/jobs?model=rt-race")).json()["jobs"]
    assert len(listed) == 1 + 4, listed


def spam_csv(n=60):
    spam = ["buy cheap viagra now", "win money fast click here", "cheap pills discount offer",
            "free prize claim now", "limited offer buy now cheap"]
    ham = ["meeting tomorrow at ten", "please review the draft report", "lunch on friday with the team",
           "the build is green again", "notes from the project call"]
    rows = ["text,label"]
    for i in range(n):
        rows.append("%s %d,spam" % (spam[i % 5], i))
        rows.append("%s %d,ham" % (ham[i % 5], i))
    return "\n".join(rows) + "\n"


def test_spam_learn(daemon):
    trained(daemon.base, "spam-fb", {"epochs": 30}, content=spam_csv())
    url = daemon.url("/spam-score/learn?model=spam-fb")
    r = requests.post(url, json={"text": "quarterly budget meeting", "label": "spam"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1
    # the same message again (subject/body form of another text is another row)
    r = requests.post(url, json={"text": "quarterly budget meeting", "label": "ham"})
    assert (r.json()["stored"], r.json()["updated"]) == (0, 1)
    r = requests.post(url, json={"subject": "hello", "body": "cheap pills", "label": "spam"})
    assert r.json()["stored"] == 1
    raw = "From: a@b\r\nSubject: prize\r\n\r\nclaim your prize now\r\n"
    r = requests.post(url + "&label=spam", data=raw, headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 200, r.text
    lst = requests.get(daemon.url("/models/spam-fb/feedback")).json()
    assert lst["count"] == 3
    labels = {f["instance"]["text"]: f["label"] for f in lst["feedback"]}
    assert labels["quarterly budget meeting"] == "ham"
    assert labels["hello\n\ncheap pills"] == "spam"
    body = error_of(requests.post(url, json={"text": "x", "label": "maybe"}), 400)
    assert body["details"]["field"] == "label"
    error_of(requests.post(daemon.url("/spam-score/learn?model=none"), json={"text": "x", "label": "spam"}), 404)


# ----- the CLI: neurond learn -----

def test_cli_learn(tmp_path):
    def run(*args):
        return subprocess.run([NEUROND] + [str(a) for a in args], capture_output=True, text=True, timeout=120)

    (tmp_path / "old.csv").write_text(moons_rows("moons_train.csv", n=300))
    lines = moons_rows("moons_train.csv").splitlines()
    (tmp_path / "old_valid.csv").write_text("\n".join(lines[:1] + lines[301:601]) + "\n")
    (tmp_path / "flipped.csv").write_text(moons_rows("moons_test.csv", flip=True))
    (tmp_path / "right.csv").write_text(moons_rows("moons_test.csv"))
    base = tmp_path / "base.nrd"
    assert run("train", tmp_path / "old.csv", "-o", base, "-q", "--epochs", "200", "--hidden", "16").returncode == 0
    # flipped labels, strongly learnt: held back, nothing written (exit 1); --force writes it
    out = tmp_path / "new.nrd"
    p = run("learn", base, tmp_path / "flipped.csv", "-o", out, "-q", "--replay", tmp_path / "old.csv",
            "--holdout", tmp_path / "old_valid.csv", "--epochs", "100", "--learning-rate", "0.01")
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["gate"]["promoted"] is False and doc["written"] is False
    assert doc["gate"]["validation"]["rows"] == 300 and not doc["gate"]["validation"]["promoted"]
    assert doc["rows"]["feedback"] + doc["rows"]["feedback_holdout"] == 400 and doc["rows"]["replay"] == 300
    assert "not written" in p.stderr and not out.exists()
    p = run("learn", base, tmp_path / "flipped.csv", "-o", out, "-q", "--force", "--epochs", "3")
    assert p.returncode == 0 and out.exists(), p.stderr
    assert json.loads(run("inspect", out, "--json").stdout)["architecture"]["layers"] == [2, 16, 1]
    # the right labels: a verdict and, when promoted, the file
    out2 = tmp_path / "new2.nrd"
    p = run("learn", base, tmp_path / "right.csv", "-o", out2, "-q", "--replay", tmp_path / "old.csv",
            "--holdout", tmp_path / "old_valid.csv")
    doc = json.loads(p.stdout)
    assert p.returncode == (0 if doc["gate"]["promoted"] else 1) and out2.exists() == doc["gate"]["promoted"]
    # a feedback CSV that does not fit: one line naming the column; bad usage: 2
    (tmp_path / "bad.csv").write_text("x1,x2,colour,label\n1,2,red,1\n")
    p = run("learn", base, tmp_path / "bad.csv", "-o", out2)
    assert p.returncode == 1 and "colour" in p.stderr
    assert run("learn", base, "-o", out2).returncode == 2
