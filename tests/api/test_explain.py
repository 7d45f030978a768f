"""Explanations over HTTP and the CLI: "explain" in POST /predict and /models/<name>/predict,
?explain=1 on the CSV form, POST /spam-score (and /batch), KServe V2 infer, neurond predict
--explain.

What: the seed's one neuron explained (caps +7 of logit, viagra 0, against zeros: the import
stores no baseline); a trained model's explanation adds up (output - baseline) and lists every
input, largest first; the same numbers from /predict and /models/<name>/predict; the same row
gets the same attributions from JSON, CSV, KServe and the CLI; a scored message's words are
words of the message and add up with its shape features; bad "explain" values are 400 naming
the field (or the query parameter) at every entry point; the card carries permutation
importance (null for an import).
"""
import csv
import io
import math
import random
import subprocess

import pytest
import requests

from conftest import NEUROND, data, error_of, train, wait_job

NEURON = {"task": "classification",
          "inputs": [{"name": "caps", "type": "numeric", "scale": False},
                     {"name": "viagra", "type": "numeric", "scale": False}],
          "label": {"name": "spam", "classes": ["ham", "spam"]},
          "layers": [{"weights": [[7, 3]], "bias": [-2], "activation": "sigmoid"}]}


def test_explain_seed_neuron(daemon):
    assert requests.post(daemon.url("/models/xneuron/import"), json=NEURON).status_code == 201
    for url, body in (("/predict", {"model": "xneuron"}), ("/models/xneuron/predict", {})):
        body = dict(body, instances=[{"caps": 1, "viagra": 0}], explain=True)
        r = requests.post(daemon.url(url), json=body)
        assert r.status_code == 200, r.text
        p = r.json()["predictions"][0]
        assert p["label"] == "spam"
        e = p["explanation"]
        assert e["class"] == "spam" and e["baseline_source"] == "zeros"
        assert abs(e["output"] - 5) < 1e-6 and abs(e["baseline"] + 2) < 1e-6
        assert list(e["attributions"]) == ["caps", "viagra"]
        assert e["attributions"] == {"caps": 7, "viagra": 0}
    # without explain: no explanation
    p = requests.post(daemon.url("/predict"), json={"model": "xneuron",
                                                    "instances": [[1, 0]]}).json()
    assert "explanation" not in p["predictions"][0]


def test_explain_adds_up(daemon):
    j = train(daemon.base, "xiris", data("iris_train.csv"), {"epochs": 20})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    inst = {"sepal_length_cm": 6.1, "sepal_width_cm": 2.8, "petal_length_cm": 4.7,
            "petal_width_cm": 1.2}
    r = requests.post(daemon.url("/predict"),
                      json={"model": "xiris", "instances": [inst], "explain": {"top": 3}})
    assert r.status_code == 200, r.text
    e = r.json()["predictions"][0]["explanation"]
    assert e["baseline_source"] == "training_means"
    assert set(e["attributions"]) == set(inst)
    vals = list(e["attributions"].values())
    assert vals == sorted(vals, key=abs, reverse=True)
    d = e["output"] - e["baseline"]
    assert abs(sum(vals) - d) <= 1e-3 * max(abs(d), 1e-2)
    assert e["completeness"]["converged"] is True


def test_explain_bad_values(daemon):
    assert requests.post(daemon.url("/models/xneuron2/import"), json=NEURON).status_code == 201
    for bad, field in (("yes", "explain"), (1, "explain"), ([True], "explain"),
                       ({"top": 0}, "explain.top"), ({"top": 2.5}, "explain.top"),
                       ({"top": "3"}, "explain.top"), ({"top": 1001}, "explain.top")):
        r = requests.post(daemon.url("/predict"),
                          json={"model": "xneuron2", "instances": [[1, 0]], "explain": bad})
        body = error_of(r, 400)
        assert body["details"]["field"] == field, (bad, body)


IRIS_ROW = {"sepal_length_cm": 6.1, "sepal_width_cm": 2.8, "petal_length_cm": 4.7,
            "petal_width_cm": 1.2}


@pytest.fixture(scope="module")
def iris(daemon):
    j = train(daemon.base, "xiris2", data("iris_train.csv"), {"epochs": 20})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    return "xiris2"


def close(a, b, rel=1e-6):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-3)


def test_same_explanation_json_csv_kserve_cli(daemon, iris, tmp_path):
    names = list(IRIS_ROW)
    # JSON
    r = requests.post(daemon.url("/predict"),
                      json={"model": iris, "instances": [IRIS_ROW], "explain": True})
    assert r.status_code == 200, r.text
    want = r.json()["predictions"][0]["explanation"]["attributions"]
    assert any(abs(v) > 1e-3 for v in want.values())
    # CSV
    row = ",".join(names) + "\n" + ",".join(str(IRIS_ROW[n]) for n in names) + "\n"
    r = requests.post(daemon.url("/predict?model=%s&explain=1" % iris), data=row,
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    got = next(csv.DictReader(io.StringIO(r.text)))
    csv_attr = {n: float(got["attr_" + n]) for n in names}
    # KServe
    r = requests.post(daemon.url("/v2/models/%s/infer" % iris),
                      json={"inputs": [{"name": "input", "datatype": "FP64", "shape": [1, 4],
                                        "data": [IRIS_ROW[n] for n in names]}],
                            "parameters": {"explain": True}})
    assert r.status_code == 200, r.text
    t = {o["name"]: o for o in r.json()["outputs"]}["explanation"]
    assert t["datatype"] == "FP64" and t["shape"] == [1, 4]
    ks_attr = dict(zip(names, t["data"]))
    # the CLI, on the model exported from the daemon
    exp = requests.get(daemon.url("/models/%s/export" % iris))
    assert exp.status_code == 200
    (tmp_path / "m.json").write_bytes(exp.content)
    (tmp_path / "row.csv").write_text(row)
    subprocess.run([NEUROND, "import", str(tmp_path / "m.json"), "-o", str(tmp_path / "m.nrd")],
                   check=True, capture_output=True)
    p = subprocess.run([NEUROND, "predict", str(tmp_path / "m.nrd"), str(tmp_path / "row.csv"),
                        "--explain"], check=True, capture_output=True, text=True)
    got = next(csv.DictReader(io.StringIO(p.stdout)))
    cli_attr = {n: float(got["attr_" + n]) for n in names}
    for n in names:
        assert close(want[n], csv_attr[n]), (n, want[n], csv_attr[n])
        assert close(want[n], ks_attr[n]), (n, want[n], ks_attr[n])
        assert close(want[n], cli_attr[n]), (n, want[n], cli_attr[n])


def test_csv_explain_columns(daemon, iris):
    body = open(data("iris_test.csv"), "rb").read()
    for q, extra in (("", False), ("&explain=0", False), ("&explain=1", True),
                     ("&explain=true", True)):
        r = requests.post(daemon.url("/predict?model=%s%s" % (iris, q)), data=body,
                          headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        rows = list(csv.DictReader(io.StringIO(r.text)))
        attrs = [c for c in rows[0] if c.startswith("attr_")]
        assert attrs == (["attr_" + n for n in IRIS_ROW] if extra else []), q
    for bad in ("2", "yes", ""):
        r = requests.post(daemon.url("/predict?model=%s&explain=%s" % (iris, bad)), data=body,
                          headers={"Content-Type": "text/csv"})
        assert error_of(r, 400)["details"]["parameter"] == "explain", bad


def test_kserve_explanation_on_request_only(daemon, iris):
    inp = [{"name": "input", "datatype": "FP32", "shape": [2, 4], "data": [6.1, 2.8, 4.7, 1.2,
                                                                              5.0, 3.4, 1.5, 0.2]}]
    url = daemon.url("/v2/models/%s/infer" % iris)
    outs = requests.post(url, json={"inputs": inp}).json()["outputs"]
    assert [o["name"] for o in outs] == ["probabilities", "label"]
    outs = requests.post(url, json={"inputs": inp, "parameters": {"explain": False}}).json()
    assert [o["name"] for o in outs["outputs"]] == ["probabilities", "label"]
    r = requests.post(url, json={"inputs": inp, "outputs": [{"name": "explanation"}]})
    assert r.status_code == 200, r.text
    outs = r.json()["outputs"]
    assert [o["name"] for o in outs] == ["explanation"]
    assert outs[0]["shape"] == [2, 4] and len(outs[0]["data"]) == 8
    for bad, field in (("yes", "parameters.explain"), (1, "parameters.explain"),
                       ({"top": 0}, "parameters.explain.top")):
        r = requests.post(url, json={"inputs": inp, "parameters": {"explain": bad}})
        assert error_of(r, 400)["details"]["field"] == field, bad
    r = requests.post(url, json={"inputs": inp, "parameters": [1]})
    assert error_of(r, 400)["details"]["field"] == "parameters"


SPAM_WORDS = "viagra cheap pills winner click free money offer urgent prize".split()
HAM_WORDS = "meeting tomorrow report budget lunch project schedule review thanks agenda".split()


@pytest.fixture(scope="module")
def spam_model(daemon):
    rnd = random.Random(4)
    rows = ["text,label"]
    for i in range(120):
        spam = i % 2 == 0
        words = [rnd.choice(SPAM_WORDS if spam else HAM_WORDS) for _ in range(8)]
        rows.append("%s,%s" % (" ".join(words), "spam" if spam else "ham"))
    j = train(daemon.base, "xspam", content=("\n".join(rows) + "\n").encode(),
              params={"epochs": 30})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    return "xspam"


def test_spam_score_explained(daemon, spam_model):
    text = "URGENT winner!!! click for cheap viagra, then the meeting agenda"
    url = daemon.url("/spam-score?model=%s" % spam_model)
    plain = requests.post(url, json={"text": text}).json()
    assert "explanation" not in plain
    r = requests.post(url, json={"text": text, "explain": {"top": 3}})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["score"] == plain["score"]
    e = b["explanation"]
    assert e["class"] == "spam"
    assert abs(e["output"] - math.log(b["score"] / (1 - b["score"]))) < 1e-3
    words = e["words"]
    assert 1 <= len(words) <= 3
    assert [abs(w["value"]) for w in words] == sorted((abs(w["value"]) for w in words),
                                                      reverse=True)
    low = text.lower()
    for w in words:  # words of the message and nowhere else
        assert all(part in low for part in w["word"].split()), w
    # every word: spam words push the score up, ham words down
    e20 = requests.post(url, json={"text": text, "explain": {"top": 20}}).json()["explanation"]
    signs = {w["word"]: w["value"] > 0 for w in e20["words"]}
    assert {w: signs[w] for w in ("urgent", "winner", "click", "cheap", "viagra", "meeting",
                                  "agenda")} == {"urgent": True, "winner": True, "click": True,
                                                 "cheap": True, "viagra": True,
                                                 "meeting": False, "agenda": False}, e20
    assert set(e["shape"]) == {"capitals", "capital_run", "exclamations", "dollars", "urls"}
    d = e["output"] - e["baseline"]
    assert abs(sum(e["attributions"].values()) - d) <= 1e-3 * max(abs(d), 1e-2)
    # a raw message with ?explain=1
    raw = "Subject: prize\r\n\r\nfree money offer, click now\r\n"
    r = requests.post(url + "&explain=1", data=raw, headers={"Content-Type": "message/rfc822"})
    assert r.status_code == 200, r.text
    assert {w["word"] for w in r.json()["explanation"]["words"]} <= set(
        "prize free money offer click now".split()) | {
        a + " " + b for a, b in zip("prize free money offer click".split(),
                                    "free money offer click now".split())}
    # the batch form
    r = requests.post(daemon.url("/spam-score/batch?model=%s" % spam_model),
                      json={"messages": [{"text": text}, {"subject": "lunch", "body": "agenda"}],
                            "explain": True})
    assert r.status_code == 200, r.text
    assert all("explanation" in x for x in r.json()["results"])


def test_spam_score_bad_explain(daemon, spam_model):
    url = daemon.url("/spam-score?model=%s" % spam_model)
    for bad, field in (("yes", "explain"), (2, "explain"), ({"top": -1}, "explain.top")):
        r = requests.post(url, json={"text": "hello", "explain": bad})
        assert error_of(r, 400)["details"]["field"] == field, bad
        r = requests.post(daemon.url("/spam-score/batch?model=%s" % spam_model),
                          json={"messages": [{"text": "hi"}], "explain": bad})
        assert error_of(r, 400)["details"]["field"] == field, bad
    r = requests.post(url + "&explain=maybe", data="Subject: x\r\n\r\nhi\r\n",
                      headers={"Content-Type": "message/rfc822"})
    assert error_of(r, 400)["details"]["parameter"] == "explain"


def test_cli_predict_explain_usage(tmp_path):
    p = subprocess.run([NEUROND, "eval", "m.nrd", "x.csv", "--explain"], capture_output=True)
    assert p.returncode == 2


def test_card_has_permutation_importance(daemon, iris):
    card = requests.get(daemon.url("/models/%s" % iris)).json()
    imp = card["importance"]
    assert imp["method"] == "permutation" and imp["metric"] == "accuracy"
    assert imp["split"] == "validation" and imp["shuffles"] == 5
    assert {i["name"] for i in imp["inputs"]} == set(IRIS_ROW)
    means = [i["mean"] for i in imp["inputs"]]
    assert means == sorted(means, reverse=True) and means[0] > 0
    assert all(i["sd"] >= 0 for i in imp["inputs"])
    # an imported model has none
    assert requests.post(daemon.url("/models/ximp/import"), json=NEURON).status_code == 201
    assert requests.get(daemon.url("/models/ximp")).json()["importance"] is None


def test_fast_and_general_paths_explain_alike(daemon, iris):
    """Rows of numbers with "explain": true take the reader without cJSON; an object instance
    or {"top": n} the general way: the same explanation, key order included."""
    names = list(IRIS_ROW)
    row = [IRIS_ROW[n] for n in names]
    got = []
    for body in ({"model": iris, "instances": [row, row], "explain": True},
                 {"model": iris, "instances": [IRIS_ROW, row], "explain": True},
                 {"model": iris, "instances": [row, row], "explain": {"top": 5}}):
        r = requests.post(daemon.url("/predict"), json=body)
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert preds[0] == preds[1]
        got.append(r.text.split('"predictions":')[1])
    assert got[0] == got[1] == got[2]
    e = requests.post(daemon.url("/predict"), json={"model": iris, "instances": [row],
                                                    "explain": True}).json()
    e = e["predictions"][0]["explanation"]
    assert list(e) == ["class", "output", "baseline", "baseline_source", "attributions",
                       "completeness"]
    # "explain": false on the fast path: no explanation
    p = requests.post(daemon.url("/predict"), json={"model": iris, "instances": [row],
                                                    "explain": False}).json()
    assert "explanation" not in p["predictions"][0]
