"""An ensemble model (issue 19: one feature pipeline, several networks, the mean of their
probabilities served) over HTTP: an ensemble put together from two trained models' exports is
imported, then every output serves the mean of its members — /predict in JSON and CSV,
/models/<name>/predict, KServe V2 infer, `neurond predict` on the exported blob — and export ->
import -> serve gives the same bytes. The card names k and the members. A member whose layers
break the --max-params limit is refused before parsing, as the first network's are."""
import csv
import io
import json
import subprocess

import pytest
import requests

from conftest import NEUROND, data, error_of, train, wait_job

ROWS = [[6.7, 3.0, 5.2, 2.3], [5.1, 3.5, 1.4, 0.2], [5.9, 3.0, 4.2, 1.5], [6.3, 2.8, 5.1, 1.5]]
NAMES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]


def exported(d, name, hidden):
    # one seed: the two models share their split, so their pipelines are the same
    j = train(d.base, name, data("iris_train.csv"), params={"epochs": 30, "hidden": hidden,
                                                           "seed": 5, "l2": "0.001"})
    assert wait_job(d.base, j["id"], timeout=300)["status"] == "succeeded"
    r = requests.get(d.url("/models/%s/export" % name))
    assert r.status_code == 200
    return r.json()


def probs(d, name):
    r = requests.post(d.url("/models/%s/predict" % name),
                      json={"instances": [dict(zip(NAMES, x)) for x in ROWS]})
    assert r.status_code == 200, r.text
    return r.json()["predictions"]


def ensemble_doc(a, b):
    doc = dict(a)
    members = a.get("ensemble", {}).get("members") or [{"origin": "first"}]
    rest = b.get("ensemble", {}).get("members") or [{"origin": "second"}]
    rest = [dict(m) for m in rest]
    rest[0] = dict(rest[0], layers=b["layers"])
    doc["ensemble"] = {"why": "two widths", "members": [dict(m) for m in members] + rest}
    doc["format_version"] = 4
    return doc


@pytest.fixture(scope="module")
def ens(daemon):
    a, b = exported(daemon, "ens-a", "8"), exported(daemon, "ens-b", "3")
    assert a["inputs"] == b["inputs"]
    doc = ensemble_doc(a, b)
    r = requests.post(daemon.url("/models/ens-ab/import"), json=doc)
    assert r.status_code == 201, r.text
    return doc


def test_every_output_serves_the_mean(daemon, ens):
    pa, pb, pe = probs(daemon, "ens-a"), probs(daemon, "ens-b"), probs(daemon, "ens-ab")
    na = len(ens["ensemble"]["members"])
    ka = len(requests.get(daemon.url("/models/ens-a")).json().get("ensemble", {}).get("members", [0]))
    for x, y, e in zip(pa, pb, pe):
        for c in e["probabilities"]:
            want = (ka * x["probabilities"][c] + (na - ka) * y["probabilities"][c]) / na
            assert abs(e["probabilities"][c] - want) < 2e-6, (c, e, x, y)
    # the members disagree somewhere: the mean is neither
    assert any(abs(x["probabilities"][c] - y["probabilities"][c]) > 1e-3
               for x, y in zip(pa, pb) for c in x["probabilities"])
    # /predict?model=, JSON and CSV, and KServe give the same numbers
    r = requests.post(daemon.url("/predict"),
                      json={"model": "ens-ab", "instances": [dict(zip(NAMES, x)) for x in ROWS]})
    assert r.json()["predictions"] == pe
    text = ",".join(NAMES) + "\n" + "".join(",".join(str(v) for v in x) + "\n" for x in ROWS)
    r = requests.post(daemon.url("/predict?model=ens-ab"), data=text,
                      headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    got = list(csv.DictReader(io.StringIO(r.text)))
    assert [g["prediction"] for g in got] == [p["label"] for p in pe]
    for g, p in zip(got, pe):
        for c, v in p["probabilities"].items():
            assert abs(float(g["p_" + c]) - v) < 1e-5
    flat = [v for x in ROWS for v in x]
    r = requests.post(daemon.url("/v2/models/ens-ab/infer"), json={
        "inputs": [{"name": "input", "shape": [4, 4], "datatype": "FP32", "data": flat}]})
    assert r.status_code == 200, r.text
    outs = {o["name"]: o for o in r.json()["outputs"]}
    assert outs["label"]["data"] == [p["label"] for p in pe]
    card = requests.get(daemon.url("/models/ens-ab")).json()
    assert card["ensemble"]["k"] == na and card["ensemble"]["why"] == "two widths"
    assert [m["hidden"] for m in card["ensemble"]["members"]][-1] == [3]


def test_export_import_same_bytes(daemon, ens, tmp_path):
    r = requests.get(daemon.url("/models/ens-ab/export"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["format_version"] == 5 and doc["ensemble"]["k"] == len(ens["ensemble"]["members"])
    assert requests.post(daemon.url("/models/ens-copy/import"), json=doc).status_code == 201
    text = ",".join(NAMES) + "\n" + "".join(",".join(str(v) for v in x) + "\n" for x in ROWS)
    a = requests.post(daemon.url("/models/ens-ab/predict"), data=text,
                      headers={"Content-Type": "text/csv"})
    b = requests.post(daemon.url("/models/ens-copy/predict"), data=text,
                      headers={"Content-Type": "text/csv"})
    assert a.status_code == 200 and a.content == b.content
    assert probs(daemon, "ens-ab") == probs(daemon, "ens-copy")
    # the CLI: the export imported to a blob predicts the daemon's CSV, and exports it back
    js, nrd, inp = tmp_path / "ens.json", tmp_path / "ens.nrd", tmp_path / "rows.csv"
    js.write_bytes(r.content)
    inp.write_text(text)
    p = subprocess.run([NEUROND, "import", str(js), "-o", str(nrd)], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([NEUROND, "predict", str(nrd), str(inp)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.encode() == a.content
    p = subprocess.run([NEUROND, "inspect", str(nrd)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "ensemble" in p.stdout.lower(), p.stdout
    p = subprocess.run([NEUROND, "export", str(nrd)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    again = json.loads(p.stdout)
    assert again["ensemble"]["members"][1]["layers"] == doc["ensemble"]["members"][1]["layers"]


def test_member_numbers_count_toward_max_params(make_daemon, ens):
    d = make_daemon(["--workers", "1", "--max-params", "1000"])
    one = dict(ens)
    del one["ensemble"]
    one["format_version"] = 3
    # the first network alone (4*8 + 8 + 8*3 + 3 = 67 numbers) passes, and so does the
    # ensemble of two; sixteen such networks (1,072 numbers) do not
    assert requests.post(d.url("/models/e1/import"), json=one).status_code == 201
    assert requests.post(d.url("/models/e3/import"), json=ens).status_code == 201
    wide = dict(ens)
    wide["ensemble"] = {"members": [{}] + [{"layers": ens["layers"]}] * 15}
    body = error_of(requests.post(d.url("/models/e2/import"), json=wide), 400)
    assert body["details"]["field"] == "layers" and "--max-params" in body["error"]


def test_onnx_export_is_the_mean(daemon, ens, tmp_path):
    """The ONNX graph holds every member and their Mean; ONNX Runtime agrees with /predict."""
    from test_onnx import check, run_ort

    r = requests.get(daemon.url("/models/ens-ab/export?format=onnx"))
    assert r.status_code == 200, r.text
    path = tmp_path / "ens.onnx"
    path.write_bytes(r.content)
    m, _ = check(str(path))
    assert [n.op_type for n in m.graph.node].count("Mean") == 1
    k = len(ens["ensemble"]["members"])
    assert [n.op_type for n in m.graph.node].count("Gemm") >= 2 * k
    feeds = {n: {"type": "float", "dims": [len(ROWS), 1], "data": [x[i] for x in ROWS]}
             for i, n in enumerate(NAMES)}
    got = run_ort(str(path), feeds)
    pe = probs(daemon, "ens-ab")
    classes = requests.get(daemon.url("/models/ens-ab")).json()["label"]["classes"]
    p = got["probabilities"]["data"]
    worst = max(abs(p[i * len(classes) + c] - e["probabilities"][classes[c]])
                for i, e in enumerate(pe) for c in range(len(classes)))
    assert worst <= 1e-5, worst
    assert got["label"]["data"] == [e["label"] for e in pe]
