"""One decision rule: a binary model trained with a threshold gives the same label for every
row on every output — /predict JSON and CSV, /v2/.../infer, `neurond predict` and
`neurond eval` (its accuracy is that of those labels) — and the threshold moves labels."""
import csv
import io
import json
import subprocess

import requests

from conftest import NEUROND, data, train, wait_job


def rows_of(path):
    with open(path) as f:
        r = list(csv.reader(f))
    return r[0], r[1:]


def test_same_label_everywhere(daemon, tmp_path):
    j = train(daemon.base, "dec-moons", data("moons_train.csv"), {"epochs": 30, "threshold": "0.95"})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    head, rows = rows_of(data("moons_test.csv"))
    inputs = head[:-1]
    instances = [{k: float(v) for k, v in zip(inputs, r[:-1])} for r in rows]

    r = requests.post(daemon.url("/predict"), json={"model": "dec-moons", "instances": instances})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    by_json = [p["label"] for p in preds]
    # the threshold decides, not the most probable class
    probs = [p["probabilities"] for p in preds]
    pos = max(probs[0], key=lambda c: c)  # classes are "0" and "1": the positive class is "1"
    assert pos == "1"
    assert all(lab == ("1" if p["1"] >= 0.95 else "0") for lab, p in zip(by_json, probs))
    assert any(p["1"] > 0.5 and lab == "0" for lab, p in zip(by_json, probs)), "threshold unused"

    with open(data("moons_test.csv"), "rb") as f:
        r = requests.post(daemon.url("/models/dec-moons/predict"), data=f.read(),
                          headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    by_csv = [x["prediction"] for x in csv.DictReader(io.StringIO(r.text))]

    flat = [float(v) for r_ in rows for v in r_[:-1]]
    r = requests.post(daemon.url("/v2/models/dec-moons/infer"), json={
        "inputs": [{"name": "input", "shape": [len(rows), len(inputs)], "datatype": "FP64",
                    "data": flat}],
        "outputs": [{"name": "label"}]})
    assert r.status_code == 200, r.text
    by_v2 = [o for o in r.json()["outputs"] if o["name"] == "label"][0]["data"]

    exp = requests.get(daemon.url("/models/dec-moons/export"))
    assert exp.status_code == 200
    (tmp_path / "m.json").write_text(exp.text)
    model = str(tmp_path / "m.nrd")
    subprocess.run([NEUROND, "import", str(tmp_path / "m.json"), "-o", model], check=True)
    out = subprocess.run([NEUROND, "predict", model, data("moons_test.csv")], check=True,
                         capture_output=True, text=True).stdout
    by_cli = [x["prediction"] for x in csv.DictReader(io.StringIO(out))]
    ev = json.loads(subprocess.run([NEUROND, "eval", model, data("moons_test.csv"), "--json"],
                                   check=True, capture_output=True, text=True).stdout)

    assert len(by_json) == len(rows)
    assert by_csv == by_json
    assert by_v2 == by_json
    assert by_cli == by_json
    truth = [r_[-1] for r_ in rows]
    right = sum(a == b for a, b in zip(by_json, truth))
    assert abs(ev["accuracy"] - right / len(rows)) < 1e-9
    conf = ev["confusion"]
    assert sum(conf[i][1] for i in range(2)) == by_json.count("1")
