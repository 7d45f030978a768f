"""Prediction: JSON objects and arrays, labels and probabilities, binary, regression, CSV,
errors with the instance's index and field, the instance limit."""
import csv
import io

import pytest
import requests

from conftest import IRIS_ROW, data, error_of, train, wait_job


@pytest.fixture(scope="module")
def models(daemon):
    jobs = {
        "iris": train(daemon.base, "p-iris", data("iris_train.csv"), {"epochs": 40}),
        "moons": train(daemon.base, "p-moons", data("moons_train.csv"), {"epochs": 5}),
        "diabetes": train(daemon.base, "p-diab", data("diabetes_train.csv"), {"epochs": 5}),
    }
    for k, j in jobs.items():
        assert wait_job(daemon.base, j["id"])["status"] == "succeeded", k
    return daemon


def test_objects_and_arrays_agree(models):
    d = models
    arr = [IRIS_ROW[k] for k in ("sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm")]
    r = requests.post(d.url("/predict"), json={"model": "p-iris", "instances": [IRIS_ROW, arr]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "p-iris" and body["version"] == 1
    a, b = body["predictions"]
    assert a == b
    assert set(a["probabilities"]) == {"setosa", "versicolor", "virginica"}
    assert abs(sum(a["probabilities"].values()) - 1) < 1e-5
    assert a["label"] == max(a["probabilities"], key=a["probabilities"].get)
    assert "probability" not in a  # multiclass


def test_batch_and_path_form(models):
    d = models
    rows = []
    with open(data("iris_test.csv")) as f:
        for rec in csv.DictReader(f):
            rows.append({k: float(v) for k, v in rec.items() if k != "species"})
    rows = rows * 40  # 1,200 instances
    r = requests.post(d.url("/models/p-iris/predict"), json={"instances": rows})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert len(preds) == len(rows)
    assert preds[0] == preds[30]


def test_binary_probability(models):
    d = models
    r = requests.post(d.url("/predict"), json={"model": "p-moons", "instances": [{"x1": 1.5, "x2": -0.4}, [-1.0, 0.5]]})
    assert r.status_code == 200, r.text
    for p in r.json()["predictions"]:
        assert set(p["probabilities"]) == {"0", "1"}
        assert abs(p["probability"] - p["probabilities"]["1"]) < 1e-6
        assert p["label"] == ("1" if p["probability"] >= 0.5 else "0")


def test_binary_threshold(models):
    d = models
    job = train(d.base, "p-moons-t", data("moons_train.csv"), {"epochs": 5, "threshold": 0.9})
    assert job["params"]["threshold"] == 0.9
    assert wait_job(d.base, job["id"])["status"] == "succeeded"
    assert requests.get(d.url("/models/p-moons-t")).json()["metrics"]["threshold"] == 0.9
    rows = [[x / 4.0, y / 4.0] for x in range(-4, 9) for y in range(-3, 5)]
    preds = requests.post(d.url("/predict"), json={"model": "p-moons-t", "instances": rows}).json()["predictions"]
    assert any(0.5 <= p["probability"] < 0.9 for p in preds)  # where the threshold matters
    for p in preds:
        assert p["label"] == ("1" if p["probability"] >= 0.9 else "0"), p


def test_regression_value(models):
    d = models
    inst = {"age": 50, "sex": 1, "bmi": 25.0, "bp": 90, "s1": 180, "s2": 110, "s3": 45, "s4": 4,
            "s5": 4.6, "s6": 90}
    r = requests.post(d.url("/predict"), json={"model": "p-diab", "instances": [inst]})
    assert r.status_code == 200, r.text
    p = r.json()["predictions"][0]
    assert set(p) == {"value"} and isinstance(p["value"], float)


def test_bad_instance_422_index_field(models):
    d = models
    bad = dict(IRIS_ROW, petal_width_cm="wide")
    r = requests.post(d.url("/predict"), json={"model": "p-iris", "instances": [IRIS_ROW, IRIS_ROW, bad]})
    body = error_of(r, 422)
    assert body["details"]["index"] == 2
    assert body["details"]["field"] == "instances[2].petal_width_cm"
    r = requests.post(d.url("/predict"), json={"model": "p-iris", "instances": [IRIS_ROW, 5]})
    body = error_of(r, 422)
    assert body["details"]["index"] == 1 and body["details"]["field"] == "instances[1]"


def test_request_errors(models):
    d = models
    error_of(requests.post(d.url("/predict"), json={"model": "nosuch", "instances": [IRIS_ROW]}), 404)
    error_of(requests.post(d.url("/predict"), json={"model": "p-iris", "version": 9, "instances": [IRIS_ROW]}), 404)
    body = error_of(requests.post(d.url("/predict"), json={"instances": [IRIS_ROW]}), 400)
    assert body["details"]["field"] == "model"
    body = error_of(requests.post(d.url("/predict"), json={"model": "p-iris"}), 400)
    assert body["details"]["field"] == "instances"
    body = error_of(requests.post(d.url("/predict"), data='{"model": "p-iris", "instances": [',
                                  headers={"Content-Type": "application/json"}), 400)
    assert body["details"]["line"] == 1
    body = error_of(requests.post(d.url("/predict"), json={"model": "p-iris", "instances": [{}] * 10001}), 413)
    assert body["details"]["limit"] == 10000
    error_of(requests.get(d.url("/predict")), 405)


def test_csv_in_csv_out(models):
    d = models
    with open(data("iris_test.csv"), "rb") as f:
        content = f.read()
    r = requests.post(d.url("/predict?model=p-iris"), data=content, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    out = list(csv.reader(io.StringIO(r.text)))
    header = out[0]
    assert header[-4:] == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert header[:4] == ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
    assert len(out) == 31
    # the same answers as JSON
    rows = [[float(v) for v in row[:4]] for row in out[1:]]
    js = requests.post(d.url("/predict"), json={"model": "p-iris", "instances": rows}).json()["predictions"]
    assert [row[header.index("prediction")] for row in out[1:]] == [p["label"] for p in js]
    # through the model path too
    r = requests.post(d.url("/models/p-iris/predict"), data=content, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.text.splitlines()[0] == ",".join(header)
    # a missing input column: 422 naming it
    r = requests.post(d.url("/predict?model=p-iris"), data=b"sepal_length_cm,foo\n1,2\n",
                      headers={"Content-Type": "text/csv"})
    body = error_of(r, 422)
    assert body["details"].get("column") or body["details"].get("field")
    body = error_of(requests.post(d.url("/predict"), data=content, headers={"Content-Type": "text/csv"}), 400)
    assert body["details"]["parameter"] == "model"


def test_prediction_counter(models):
    d = models
    def count():
        for line in requests.get(d.url("/metrics")).text.splitlines():
            if line.startswith("neurond_predictions_total "):
                return int(line.split()[1])
    before = count()
    requests.post(d.url("/predict"), json={"model": "p-iris", "instances": [IRIS_ROW] * 7})
    assert count() == before + 7


def test_fast_and_general_paths_agree(models):
    """Rows of numbers are read without cJSON (server/predict_read.c); any other body goes the
    general way. The same instances must get the same bytes either way, and the errors of
    bodies the fast reader declines stay the general path's."""
    d = models
    rows = []
    with open(data("iris_test.csv")) as f:
        for rec in csv.DictReader(f):
            rows.append([float(v) for k, v in rec.items() if k != "species"])
    names = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
    hdr = {"Content-Type": "application/json"}
    fast = requests.post(d.url("/predict"), data='{"model":"p-iris","instances":%s}' % rows, headers=hdr)
    assert fast.status_code == 200, fast.text
    # an unknown key, objects, a version: each takes the general path
    general = requests.post(d.url("/predict"), json={"model": "p-iris", "instances": rows, "note": "x"})
    objects = requests.post(d.url("/predict"), json={"model": "p-iris", "version": 1,
                                                      "instances": [dict(zip(names, r)) for r in rows]})
    assert fast.text == general.text == objects.text
    assert len(fast.json()["predictions"]) == len(rows)
    # a body the fast reader declines still gets the general path's errors
    body = error_of(requests.post(d.url("/predict"), data='{"model":"p-iris","instances":[[1,2,3]]}',
                                  headers=hdr), 422)
    assert body["details"]["field"] == "instances[0]"
    body = error_of(requests.post(d.url("/predict"), data='{"model":"p-iris","instances":[[1,2,3,1e39]]}',
                                  headers=hdr), 422)
    assert body["details"]["field"] == "instances[0].petal_width_cm"
    error_of(requests.post(d.url("/predict"), data='{"model":"p-iris","version":7,"instances":[[1,2,3,4]]}',
                           headers=hdr), 404)
    error_of(requests.post(d.url("/predict"), data='{"model":"p-nope","instances":[[1,2,3,4]]}', headers=hdr), 404)
    body = error_of(requests.post(d.url("/predict"), data='{"instances":[[1,2,3,4]]}', headers=hdr), 400)
    assert body["details"]["field"] == "model"
    body = error_of(requests.post(d.url("/predict"), data='{"model":"p-iris","instances":%s}' % ([[1, 2, 3, 4]] * 10001),
                                  headers=hdr), 413)
    assert body["details"]["limit"] == 10000
    # a model with a categorical input answers arrays of numbers the general way (as text)
    job = train(d.base, "p-diab-cat", data("diabetes_train.csv"), {"epochs": 2, "categorical_columns": "sex"})
    assert wait_job(d.base, job["id"])["status"] == "succeeded"
    inputs = requests.get(d.url("/models/p-diab-cat")).json()["inputs"]
    assert [i["type"] for i in inputs if i["name"] == "sex"] == ["categorical"], inputs
    row = '[50,1,25,90,180,110,45,4,4.6,90]'
    r = requests.post(d.url("/predict"), data='{"model":"p-diab-cat","instances":[%s]}' % row, headers=hdr)
    assert r.status_code == 200, r.text
    assert set(r.json()["predictions"][0]) == {"value"}
    named = dict(zip(["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"], [50, "1", 25, 90, 180, 110, 45, 4, 4.6, 90]))
    assert requests.post(d.url("/predict"), json={"model": "p-diab-cat", "instances": [named]}).text == r.text
