"""ONNX export, checked by tools neurond did not write (issue 22): every bundled numeric data set,
the two with missing cells and a generated one with categorical columns train over HTTP, export
with GET /models/<name>/versions/1/export?format=onnx, pass Debian's python3-onnx checker with
full checks and strict shape inference, and ONNX Runtime (npm onnxruntime-node, CPU, run from
node: tests/onnx/run_ort.mjs) gives probabilities within 1e-5 of /predict's and the same labels
on every row, missing cells (NaN / a marker string) and an unseen category included. A model
with a text input is 422 naming the column; `neurond export --format onnx` writes the same
graph as the daemon.

ONNX Runtime comes from tests/onnx/package-lock.json (tests/onnx/setup.sh, run by
tests/browser/setup.sh). The ORT tests skip, saying so, only when the npm registry cannot be
reached and the packages are not installed; CI must run them."""
import csv
import io
import json
import math
import os
import random
import subprocess

import onnx
import pytest
import requests

from conftest import NEUROND, ROOT, data, error_of, train, wait_job

ONNX_DIR = os.path.join(ROOT, "tests", "onnx")
ORT_PKG = os.path.join(ONNX_DIR, "node_modules", "onnxruntime-node", "package.json")
TOL = 1e-5


def ort_ready():
    """Installs tests/onnx's packages when missing; skips only when npm cannot reach the registry."""
    if os.path.exists(ORT_PKG):
        return
    p = subprocess.run([os.path.join(ONNX_DIR, "setup.sh")], capture_output=True, text=True,
                       timeout=600)
    if os.path.exists(ORT_PKG):
        return
    if p.returncode == 3:  # setup.sh: the registry cannot be reached
        pytest.skip("ONNX Runtime (npm onnxruntime-node) is not installed and the npm registry "
                    "cannot be reached: the ORT comparison did not run here; CI must run it")
    pytest.fail("tests/onnx/setup.sh failed:\n" + p.stdout + p.stderr)


def run_ort(model_path, feeds):
    ort_ready()
    p = subprocess.run(["node", os.path.join(ONNX_DIR, "run_ort.mjs"), model_path],
                       input=json.dumps(feeds), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def check(path):
    """python3-onnx: the full checker, then strict shape inference with type checks."""
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    inf = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    return m, {o.name: o.type.tensor_type for o in inf.graph.output}


def mixed_csv():
    """Numeric and categorical columns, both with missing cells (NA, ?, empty), 300 rows."""
    rnd = random.Random(22)
    lines = ["x,colour,shape,z,y"]
    for i in range(300):
        x = rnd.gauss(0, 1)
        colour = rnd.choice(["red", "blue", "green"])
        shape = rnd.choice(["round", "square"])
        z = rnd.uniform(10, 20)
        score = x + (1.2 if colour == "red" else -0.6 if colour == "blue" else 0) + \
            (0.8 if shape == "round" else -0.8) + (z - 15) / 5 + rnd.gauss(0, 0.5)
        lines.append("%s,%s,%s,%s,%s" % (
            "NA" if i % 9 == 0 else "%.4f" % x,
            ("NA", "?", "")[i % 3] if i % 7 == 0 else colour,
            shape, "" if i % 11 == 0 else "%.3f" % z, "yes" if score > 0 else "no"))
    return "\n".join(lines) + "\n"


# name: (training file or text, rows to predict, parameters)
SETS = {
    "iris": ("iris_train.csv", "iris_test.csv", {"epochs": 40}),
    "moons": ("moons_train.csv", "moons_test.csv", {"epochs": 15, "threshold": "0.9"}),
    "breast": ("breast_cancer_train.csv", "breast_cancer_test.csv", {"epochs": 20}),
    "wine": ("wine_train.csv", "wine_test.csv", {"epochs": 30}),
    "digits": ("digits_train.csv", "digits_test.csv", {"epochs": 8}),
    "diabetes": ("diabetes_train.csv", "diabetes_test.csv", {"epochs": 30}),
    "iris-na": ("iris_r_na.csv", "iris_r_na.csv", {"epochs": 40}),
    "breast-na": ("breast_cancer_pandas_na.csv", "breast_cancer_pandas_na.csv", {"epochs": 15}),
    "mixed": (None, None, {"epochs": 40, "hidden": "16,8", "activation": "tanh"}),
}


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def number(cell):
    try:
        v = float(cell)
    except ValueError:
        return None
    return None if math.isnan(v) else v


@pytest.mark.parametrize("name", sorted(SETS))
def test_export_matches_onnx_runtime(daemon, tmp_path, name):
    train_file, test_file, params = SETS[name]
    model = "onnx-" + name
    if train_file is None:
        text = mixed_csv()
        j = train(daemon.base, model, content=text.encode(), params=params)
        rows = rows_of(text) + [{"x": "1.5", "colour": "purple", "shape": "round", "z": "?"}]
    else:
        j = train(daemon.base, model, data(train_file), params=params)
        with open(data(test_file), newline="") as f:
            rows = rows_of(f.read())
    assert wait_job(daemon.base, j["id"], timeout=300)["status"] == "succeeded"
    card = requests.get(daemon.url("/models/" + model)).json()
    inputs = [(i["name"], i["type"]) for i in card["inputs"]]
    regression = card["task"] == "regression"

    r = requests.get(daemon.url("/models/%s/versions/1/export?format=onnx" % model))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/onnx"
    same = requests.get(daemon.url("/models/%s/export?format=onnx" % model))
    assert same.content == r.content
    path = tmp_path / (name + ".onnx")
    path.write_bytes(r.content)
    m, outs = check(str(path))
    # one graph input per column: float [N,1] for numeric, string [N,1] for categorical
    assert [(i.name, i.type.tensor_type.elem_type) for i in m.graph.input] == [
        (n, onnx.TensorProto.FLOAT if t == "numeric" else onnx.TensorProto.STRING)
        for n, t in inputs]
    assert all(len(i.type.tensor_type.shape.dim) == 2 and i.type.tensor_type.shape.dim[1].dim_value == 1
               for i in m.graph.input)
    if regression:
        assert list(outs) == ["value"]
    else:
        assert list(outs) == ["label", "probabilities"]
        assert outs["label"].elem_type == onnx.TensorProto.STRING
        classes = card["label"]["classes"]
        assert outs["probabilities"].shape.dim[1].dim_value == len(classes)

    instances, feeds = [], {}
    for n, t in inputs:
        vals = [number(r[n]) if t == "numeric" else r[n] for r in rows]
        feeds[n] = {"type": "float" if t == "numeric" else "string", "dims": [len(rows), 1],
                    "data": vals}
    for k in range(len(rows)):
        instances.append({n: feeds[n]["data"][k] for n, _ in inputs})
    if name in ("iris-na", "breast-na", "mixed"):
        assert any(v is None for f in feeds.values() for v in f["data"]), "no missing cell"
    got = run_ort(str(path), feeds)
    want = requests.post(daemon.url("/models/%s/predict" % model), json={"instances": instances})
    assert want.status_code == 200, want.text
    preds = want.json()["predictions"]
    assert len(preds) == len(rows)
    if regression:
        vals = got["value"]["data"]
        assert got["value"]["dims"] == [len(rows), 1]
        worst = max(abs(v - p["value"]) / max(1.0, abs(p["value"])) for v, p in zip(vals, preds))
        assert worst <= TOL, worst
        return
    k = len(classes)
    probs = got["probabilities"]["data"]
    assert got["probabilities"]["dims"] == [len(rows), k]
    worst = max(abs(probs[i * k + c] - p["probabilities"][classes[c]])
                for i, p in enumerate(preds) for c in range(k))
    assert worst <= TOL, worst
    assert got["label"]["data"] == [p["label"] for p in preds]
    if name == "moons":  # the threshold decides, not the most probable class
        assert any(p["probabilities"]["1"] > 0.5 and p["label"] == "0" for p in preds)
    if name == "mixed":  # the unseen category and the missing cells took their paths
        assert rows[-1]["colour"] == "purple" and got["label"]["data"][-1] == preds[-1]["label"]


def test_text_input_is_refused_naming_the_column(daemon):
    words = ["cheap", "pills", "meeting", "tomorrow", "offer", "report", "win", "lunch"]
    lines = ["subject,n,y"] + ["%s %s %s,%d,%s" % (words[i % 8], words[(i * 3) % 8], words[(i * 5) % 8],
                                                   i % 13, "spam" if i % 8 in (0, 1, 4, 6) else "ham")
                               for i in range(80)]
    j = train(daemon.base, "onnx-text", content=("\n".join(lines) + "\n").encode(),
              params={"epochs": 5, "text_columns": "subject"})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    body = error_of(requests.get(daemon.url("/models/onnx-text/export?format=onnx")), 422)
    assert body["details"]["field"] == "subject"
    assert "text" in body["error"] and "subject" in body["error"]
    # the JSON export still works, and an unknown format is 400 naming the parameter
    assert requests.get(daemon.url("/models/onnx-text/export?format=json")).status_code == 200
    body = error_of(requests.get(daemon.url("/models/onnx-text/export?format=pmml")), 400)
    assert body["details"]["parameter"] == "format"


def test_cli_export_writes_the_daemons_graph(daemon, tmp_path):
    nrd = tmp_path / "iris.nrd"
    p = subprocess.run([NEUROND, "train", data("iris_train.csv"), "-o", str(nrd), "--epochs", "5"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([NEUROND, "export", "--format", "onnx", str(nrd)], capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    (tmp_path / "iris.onnx").write_bytes(p.stdout)
    _, outs = check(str(tmp_path / "iris.onnx"))
    assert list(outs) == ["label", "probabilities"]
    # the same model imported into the daemon exports the same bytes
    exp = subprocess.run([NEUROND, "export", str(nrd)], capture_output=True, timeout=60)
    r = requests.post(daemon.url("/models/onnx-cli/import"), data=exp.stdout,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    r = requests.get(daemon.url("/models/onnx-cli/export?format=onnx"))
    assert r.status_code == 200 and r.content == p.stdout
    p = subprocess.run([NEUROND, "export", "--format", "xml", str(nrd)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "--format must be json or onnx" in p.stderr
