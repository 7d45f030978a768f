"""A NUL cannot cut a string on its way in (issue 17, item 4): cJSON decodes \\u0000 into a
NUL byte that ends the C string, so {"model": "iris\\u0000x"} was answered by model iris.
Every JSON body is checked once before it is parsed (server/json_check.c): an escaped NUL
in any string or key is 400 naming the field; a raw control character is malformed JSON
(400 with line and column); so are bytes after the JSON value. Form fields, paths and query
arguments cannot carry a NUL either."""
import json

import pytest
import requests

from conftest import IRIS_ROW, data, error_of, train, wait_job


@pytest.fixture(scope="module")
def model(daemon):
    job = train(daemon.base, "nuliris", data("iris_train.csv"), {"epochs": 3})
    assert wait_job(daemon.base, job["id"])["status"] == "succeeded"
    return "nuliris"


def post_raw(daemon, path, raw):
    return requests.post(daemon.url(path), data=raw, headers={"Content-Type": "application/json"})


def test_the_model_answers_with_a_clean_name(daemon, model):
    r = requests.post(daemon.url("/predict"), json={"model": model, "instances": [IRIS_ROW]})
    assert r.status_code == 200, r.text


def test_escaped_nul_in_a_model_name(daemon, model):
    body = error_of(requests.post(daemon.url("/predict"),
                                  json={"model": model + "\u0000x", "instances": [IRIS_ROW]}), 400)
    assert body["details"]["field"] == "model"
    assert "NUL" in body["error"]


def test_escaped_nul_in_a_column_name_and_a_value(daemon, model):
    row = dict(IRIS_ROW)
    row["sepal_length_cm\u0000zz"] = row.pop("sepal_length_cm")
    body = error_of(requests.post(daemon.url("/models/%s/predict" % model),
                                  json={"instances": [IRIS_ROW, row]}), 400)
    assert body["details"]["field"].startswith("instances[1].sepal_length_cm")
    row = dict(IRIS_ROW, sepal_length_cm="5\u00001")
    body = error_of(requests.post(daemon.url("/models/%s/predict" % model),
                                  json={"instances": [row]}), 400)
    assert body["details"]["field"] == "instances[0].sepal_length_cm"


def test_escaped_nul_in_kserve_and_spam_and_import(daemon, model):
    r = requests.post(daemon.url("/v2/models/%s/infer" % model), json={"inputs": [
        {"name": "input\u0000", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
    assert error_of(r, 400)["details"]["field"] == "inputs[0].name"
    r = requests.post(daemon.url("/spam-score"), json={"model": "spam\u0000", "text": "hello"})
    assert error_of(r, 400)["details"]["field"] == "model"
    doc = requests.get(daemon.url("/models/%s/export" % model)).json()
    doc["label"]["classes"][0] = "set\u0000osa"
    r = requests.post(daemon.url("/models/nulimport/import"), json=doc)
    assert error_of(r, 400)["details"]["field"] == "label.classes[0]"
    assert requests.get(daemon.url("/models/nulimport")).status_code == 404


def test_raw_control_characters_are_malformed_json(daemon, model):
    rows = json.dumps([IRIS_ROW]).encode()
    for raw, col in [
        (b'{"model": "' + model.encode() + b'\x00x", "instances": ' + rows + b"}", 19),
        (b'{"model": "nul\x01iris", "instances": ' + rows + b"}", 15),
        (b'{"model":\x01 "' + model.encode() + b'", "instances": ' + rows + b"}", 10),
    ]:
        body = error_of(post_raw(daemon, "/predict", raw), 400)
        assert body["error"].startswith("malformed JSON"), body
        assert body["details"] == {"line": 1, "column": col}, (raw, body)


def test_bytes_after_the_value_are_malformed_json(daemon, model):
    raw = json.dumps({"model": model, "instances": [IRIS_ROW]}).encode()
    body = error_of(post_raw(daemon, "/predict", raw + b"\n  xyz"), 400)
    assert body["details"] == {"line": 2, "column": 3}
    assert post_raw(daemon, "/predict", raw + b" \r\n\t").status_code == 200


def test_nul_in_a_form_field(daemon):
    with open(data("iris_train.csv"), "rb") as f:
        content = f.read()
    r = requests.post(daemon.url("/train"), data={"model": "nul\x00x"},
                      files={"file": ("d.csv", content, "text/csv")})
    body = error_of(r, 400)
    assert "model" in body["error"] and "NUL" in body["error"]
    assert requests.get(daemon.url("/models/nul")).status_code == 404


def test_nul_in_the_path_and_the_query(daemon, model):
    error_of(requests.get(daemon.url("/models/%s%%00x" % model)), 404)
    error_of(requests.get(daemon.url("/v2/models/%s%%00x" % model)), 404)
    r = requests.post(daemon.url("/predict?model=%s%%00x" % model),
                      data="sepal_length_cm,sepal_width_cm,petal_length_cm,petal_width_cm\n1,2,3,4\n",
                      headers={"Content-Type": "text/csv"})
    assert r.status_code in (400, 404), r.text
    # the rest of percent-decoding is unchanged
    assert requests.get(daemon.url("/models/%s" % model.replace("n", "%6e"))).status_code == 200
