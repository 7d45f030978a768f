"""KServe V2 / Open Inference Protocol: server and model metadata, health, readiness, and
inference with the protocol's tensors, checked field by field against the protocol's REST
schema (required_api: $inference_request / $inference_response / $metadata_model_response)
and against /predict's numbers for the same rows."""
import json

import pytest
import requests

from conftest import data, error_of, train, wait_job

IRIS_COLS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
ROWS = [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6], [5.1, 3.5, 1.4, 0.2]]
MIXED_CSV = "color,note,size,label\n" + "".join(
    "%s,%s,%d,%s\n" % (c, n, s, lab)
    for i in range(60)
    for (c, n, s, lab) in [(("red", "blue", "green")[i % 3],
                            ("cheap pills now", "meeting at noon", "free money offer")[i % 3],
                            i % 7, ("spam", "ham", "spam")[i % 3])])
DATATYPES = {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
             "FP16", "FP32", "FP64", "BYTES"}


@pytest.fixture(scope="module")
def ks(daemon):
    jobs = [train(daemon.base, "ks-iris", data("iris_train.csv"), {"epochs": 40}),
            train(daemon.base, "ks-diab", data("diabetes_train.csv"), {"epochs": 5}),
            train(daemon.base, "ks-mixed", content=MIXED_CSV.encode(),
                  params={"epochs": 10, "text_columns": "note", "categorical_columns": "color"})]
    for j in jobs:
        assert wait_job(daemon.base, j["id"])["status"] == "succeeded", j
    return daemon


def prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def check_tensor(t, metadata=False):
    """A $response_output (or a $metadata_tensor) of the protocol, field by field."""
    assert isinstance(t["name"], str) and t["name"]
    assert t["datatype"] in DATATYPES
    assert isinstance(t["shape"], list) and all(isinstance(d, int) for d in t["shape"])
    if metadata:
        assert set(t) == {"name", "datatype", "shape"}
        return
    assert set(t) <= {"name", "shape", "datatype", "parameters", "data"}
    assert isinstance(t["data"], list) and len(t["data"]) == prod(t["shape"])  # flat, row-major
    kind = str if t["datatype"] == "BYTES" else (int, float)
    assert all(isinstance(x, kind) for x in t["data"])


def check_response(body, model, version="1", req_id=None):
    """$inference_response: model_name, model_version?, id?, parameters?, outputs."""
    assert set(body) <= {"model_name", "model_version", "id", "parameters", "outputs"}
    assert body["model_name"] == model
    assert body["model_version"] == version
    if req_id is not None:
        assert body["id"] == req_id
    else:
        assert "id" not in body
    for t in body["outputs"]:
        check_tensor(t)
    return {t["name"]: t for t in body["outputs"]}


def infer(d, model, req, path=None):
    return requests.post(d.url(path or "/v2/models/%s/infer" % model), json=req)


def test_server_metadata_health_ready(ks):
    d = ks
    r = requests.get(d.url("/v2"))
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["name"] == "neurond" and isinstance(meta["version"], str) and meta["version"]
    assert meta["extensions"] == []
    assert requests.get(d.url("/v2/health/live")).json() == {"live": True}
    r = requests.get(d.url("/v2/health/ready"))
    assert r.status_code == 200 and r.json() == {"ready": True}
    r = requests.get(d.url("/v2/models/ks-iris/ready"))
    assert r.status_code == 200 and r.json() == {"name": "ks-iris", "ready": True}
    assert requests.get(d.url("/v2/models/ks-iris/versions/1/ready")).status_code == 200
    error_of(requests.get(d.url("/v2/models/ks-iris/versions/7/ready")), 404)
    error_of(requests.get(d.url("/v2/models/nope/ready")), 404)


def test_model_metadata(ks):
    d = ks
    meta = requests.get(d.url("/v2/models/ks-iris")).json()
    assert set(meta) == {"name", "versions", "platform", "inputs", "outputs"}
    assert meta["name"] == "ks-iris" and meta["versions"] == ["1"] and meta["platform"] == "neurond"
    for t in meta["inputs"] + meta["outputs"]:
        check_tensor(t, metadata=True)
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
                               {"name": "label", "datatype": "BYTES", "shape": [-1]},
                               {"name": "explanation", "datatype": "FP64", "shape": [-1, 4]}]
    assert requests.get(d.url("/v2/models/ks-iris/versions/1")).json() == meta
    error_of(requests.get(d.url("/v2/models/ks-iris/versions/2")), 404)
    error_of(requests.get(d.url("/v2/models/ks-iris/versions/x")), 404)
    error_of(requests.get(d.url("/v2/models/absent")), 404)
    # regression: one output, "value"
    meta = requests.get(d.url("/v2/models/ks-diab")).json()
    assert meta["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 10]}]
    assert meta["outputs"] == [{"name": "value", "datatype": "FP32", "shape": [-1]},
                               {"name": "explanation", "datatype": "FP64", "shape": [-1, 10]}]
    # mixed columns: one tensor per column, BYTES for the text and the categorical one
    meta = requests.get(d.url("/v2/models/ks-mixed")).json()
    assert meta["inputs"] == [{"name": "color", "datatype": "BYTES", "shape": [-1]},
                              {"name": "note", "datatype": "BYTES", "shape": [-1]},
                              {"name": "size", "datatype": "FP32", "shape": [-1]}]
    assert meta["outputs"][1] == {"name": "label", "datatype": "BYTES", "shape": [-1]}


def predict_rows(d, model, rows):
    r = requests.post(d.url("/models/%s/predict" % model), json={"instances": rows})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def test_infer_matrix_matches_predict(ks):
    d = ks
    req = {"id": "42", "inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP32", "data": ROWS}]}
    r = infer(d, "ks-iris", req)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    out = check_response(r.json(), "ks-iris", req_id="42")
    assert [t["name"] for t in r.json()["outputs"]] == ["probabilities", "label"]
    probs, label = out["probabilities"], out["label"]
    assert probs["shape"] == [3, 3] and probs["datatype"] == "FP32"
    assert label["shape"] == [3] and label["datatype"] == "BYTES"
    want = predict_rows(d, "ks-iris", ROWS)
    classes = ["setosa", "versicolor", "virginica"]
    for i, p in enumerate(want):
        assert label["data"][i] == p["label"]
        for c, name in enumerate(classes):
            assert abs(probs["data"][i * 3 + c] - p["probabilities"][name]) < 1e-6
        assert abs(sum(probs["data"][i * 3:i * 3 + 3]) - 1) < 1e-5
    assert label["data"][2] == "setosa"
    # flat data (row-major) gives the same; no id sent, none echoed
    flat = [x for row in ROWS for x in row]
    r2 = infer(d, "ks-iris", {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP32", "data": flat}]})
    assert check_response(r2.json(), "ks-iris") == out
    # the version path, FP64 and INT data are numbers too
    r3 = infer(d, "ks-iris", {"inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": flat}]},
               "/v2/models/ks-iris/versions/1/infer")
    assert check_response(r3.json(), "ks-iris")["label"] == label


def test_kserve_documented_example(ks):
    """The request of KServe's own sklearn-iris example, unchanged (tensor named input-0)."""
    d = ks
    req = {"inputs": [{"name": "input-0", "shape": [2, 4], "datatype": "FP32",
                       "data": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}]}
    r = infer(d, "ks-iris", req)
    assert r.status_code == 200, r.text
    out = check_response(r.json(), "ks-iris")
    assert out["label"]["data"] == [p["label"] for p in predict_rows(d, "ks-iris", ROWS[:2])]


def test_infer_per_column_and_requested_outputs(ks):
    d = ks
    inputs = [{"name": c, "shape": [3], "datatype": "FP32", "data": [row[i] for row in ROWS]}
              for i, c in enumerate(IRIS_COLS)]
    inputs.reverse()  # order of the tensors does not matter, names do
    r = infer(d, "ks-iris", {"inputs": inputs, "outputs": [{"name": "label"}]})
    assert r.status_code == 200, r.text
    out = check_response(r.json(), "ks-iris")
    assert list(out) == ["label"]
    assert out["label"]["data"] == [p["label"] for p in predict_rows(d, "ks-iris", ROWS)]
    # [n, 1] column tensors are accepted too
    for t in inputs:
        t["shape"] = [3, 1]
    r = infer(d, "ks-iris", {"inputs": inputs, "outputs": [{"name": "probabilities"}]})
    assert list(check_response(r.json(), "ks-iris")) == ["probabilities"]


def test_infer_mixed_bytes_and_regression(ks):
    d = ks
    rows = [{"color": "red", "note": "cheap pills now", "size": 3},
            {"color": "blue", "note": "meeting at noon", "size": 1}]
    inputs = [{"name": "color", "shape": [2], "datatype": "BYTES", "data": ["red", "blue"]},
              {"name": "note", "shape": [2], "datatype": "BYTES", "data": ["cheap pills now", "meeting at noon"]},
              {"name": "size", "shape": [2], "datatype": "INT32", "data": [3, 1]}]
    r = infer(d, "ks-mixed", {"inputs": inputs})
    assert r.status_code == 200, r.text
    out = check_response(r.json(), "ks-mixed")
    want = predict_rows(d, "ks-mixed", rows)
    assert out["label"]["data"] == [p["label"] for p in want]
    assert out["probabilities"]["shape"] == [2, 2]
    for i, p in enumerate(want):
        assert abs(out["probabilities"]["data"][i * 2 + 1] - p["probability"]) < 1e-6
    # regression: "value" FP32 [n], the /predict values
    diab = [[59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87], [48, 1, 21.6, 87, 183, 103.2, 70, 3, 3.8918, 69]]
    r = infer(d, "ks-diab", {"inputs": [{"name": "input", "shape": [2, 10], "datatype": "FP32", "data": diab}]})
    out = check_response(r.json(), "ks-diab")
    assert list(out) == ["value"] and out["value"]["shape"] == [2]
    for v, p in zip(out["value"]["data"], predict_rows(d, "ks-diab", diab)):
        assert abs(v - p["value"]) <= 1e-4 * max(1, abs(p["value"]))


def test_infer_errors(ks):
    d = ks
    t = {"name": "input", "shape": [2, 4], "datatype": "FP32", "data": ROWS[:2]}
    # protocol violations: 400
    b = error_of(infer(d, "ks-iris", {"inputs": [dict(t, shape=[3, 4])]}), 400)
    assert b["details"]["field"] == "inputs[0].data"
    b = error_of(infer(d, "ks-iris", {"inputs": [dict(t, datatype="FP8")]}), 400)
    assert b["details"]["field"] == "inputs[0].datatype"
    b = error_of(infer(d, "ks-iris", {"inputs": [dict(t, data=[[1, 2, 3, "x"], [1, 2, 3, 4]])]}), 400)
    assert b["details"]["field"] == "inputs[0].data[3]"
    b = error_of(infer(d, "ks-iris", {"inputs": [{"name": "input", "shape": [1, 4]}]}), 400)
    assert b["details"]["field"] == "inputs[0]"
    error_of(infer(d, "ks-iris", {"inputs": []}), 400)
    error_of(infer(d, "ks-iris", {"instances": ROWS}), 400)
    error_of(infer(d, "ks-iris", {"id": 5, "inputs": [t]}), 400)
    b = error_of(infer(d, "ks-iris", {"inputs": [t], "outputs": [{"name": "value"}]}), 400)
    assert b["details"]["field"] == "outputs[0].name"
    r = requests.post(d.url("/v2/models/ks-iris/infer"), data="{not json",
                      headers={"Content-Type": "application/json"})
    error_of(r, 400)
    # tensors that do not fit the model: 422
    b = error_of(infer(d, "ks-iris", {"inputs": [dict(t, shape=[1, 3], data=[1, 2, 3])]}), 422)
    assert b["details"]["field"] == "inputs[0].shape"
    cols = [{"name": c, "shape": [1], "datatype": "FP32", "data": [1.0]} for c in IRIS_COLS]
    b = error_of(infer(d, "ks-iris", {"inputs": cols[:3]}), 422)
    assert b["details"]["field"] == "petal_width_cm"
    b = error_of(infer(d, "ks-iris", {"inputs": cols + [dict(cols[0], name="colour")]}), 422)
    assert b["details"]["field"] == "inputs[4].name"
    b = error_of(infer(d, "ks-iris", {"inputs": cols[:3] + [dict(cols[3], shape=[2], data=[1, 2])]}), 400)
    assert b["details"]["field"] == "inputs[3].shape"
    # a BYTES cell that is no number for a numeric column: 422 with the row
    b = error_of(infer(d, "ks-iris", {"inputs": cols[:3] + [dict(cols[3], datatype="BYTES", data=["abc"])]}), 422)
    assert b["details"]["index"] == 0
    # no such model or version: 404; wrong method: 405
    error_of(infer(d, "nope", {"inputs": [t]}), 404)
    error_of(infer(d, "ks-iris", {"inputs": [t]}, "/v2/models/ks-iris/versions/9/infer"), 404)
    error_of(requests.get(d.url("/v2/models/ks-iris/infer")), 405)


@pytest.mark.parametrize("datatype,bad,good", [
    ("UINT8", [-1, 256, 1.5], [0, 255]),
    ("UINT16", [-1, 65536], [65535]),
    ("UINT32", [-1, 4294967296], [4294967295]),
    ("UINT64", [-1, 18446744073709551616, 0.5], [0, 9007199254740992]),
    ("INT8", [1.5, -129, 128], [-128, 127]),
    ("INT16", [-32769, 32768], [-32768, 32767]),
    ("INT32", [2147483648, 0.1], [-2147483648, 2147483647]),
    ("INT64", [9223372036854775808, 2.5], [-9223372036854775808]),
    ("BOOL", [2, -1, 0.5], [True, False, 0, 1]),
    ("FP16", [65520.0, -1e5], [65504.0, -65504.0]),
    ("FP32", [3.5e38, -1e39], [3.4e38, 1e-45]),
    ("FP64", [1e999], [1e308]),
])
def test_infer_datatype_ranges(ks, datatype, bad, good):
    """Each element must fit its tensor's datatype: integral and in range for the integer
    types, a magnitude the float types hold (1e999 reads as infinity): else 400 naming the
    input and the element."""
    d = ks
    cols = [{"name": c, "shape": [1], "datatype": "FP32", "data": [1.0]} for c in IRIS_COLS]
    for v in bad:
        t = dict(cols[2], datatype=datatype, data=[v])
        raw = json.dumps({"inputs": cols[:2] + [t, cols[3]]}).replace("Infinity", "1e999")
        r = requests.post(d.url("/v2/models/ks-iris/infer"), data=raw,
                          headers={"Content-Type": "application/json"})
        b = error_of(r, 400)
        assert b["details"]["field"] == "inputs[2].data[0]", (datatype, v, b)
        assert "petal_length_cm" in b["error"] and datatype in b["error"], b
    for v in good:
        t = dict(cols[2], datatype=datatype, data=[v])
        r = infer(d, "ks-iris", {"inputs": cols[:2] + [t, cols[3]]})
        if (datatype, v) == ("FP64", 1e308):  # a valid FP64 the float32 model cannot take
            b = error_of(r, 422)
            assert "float32" in b["error"] and b["details"]["field"] == "petal_length_cm"
        else:
            assert r.status_code == 200, (datatype, v, r.text)


def test_auth_health_is_public(make_daemon):
    d = make_daemon(["--api-key", "sekret"])
    assert requests.get(d.url("/v2/health/live")).status_code == 200
    assert requests.get(d.url("/v2/health/ready")).status_code == 200
    error_of(requests.get(d.url("/v2")), 401)
    error_of(requests.post(d.url("/v2/models/x/infer"), json={"inputs": []}), 401)
    r = requests.get(d.url("/v2"), headers={"Authorization": "Bearer sekret"})
    assert r.status_code == 200
