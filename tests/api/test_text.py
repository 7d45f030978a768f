"""Text is UTF-8, cells hold no NUL (issue 17 items 5, 6, 13): bytes that are not UTF-8 and NUL
bytes are refused at the door with their line and column — in a CSV header, a class, a cell, a
JSON body, a parameter — and whatever is echoed back in a reply is UTF-8. A malformed CSV gets
the same status and error shape at /train and at CSV /predict. (conftest.py also checks that
every JSON reply of the suite is strict UTF-8 JSON.)"""
import json

import requests

from conftest import IRIS_ROW, data, error_of, train, wait_job

IRIS = open(data("iris_train.csv"), "rb").read()
HEADER, *ROWS = IRIS.split(b"\n")


def csv_with(line, cell):
    """The iris CSV with the species of data line `line` (2 = the first data row) replaced."""
    rows = [r for r in ROWS if r]
    fields = rows[line - 2].split(b",")
    fields[-1] = cell
    rows[line - 2] = b",".join(fields)
    return HEADER + b"\n" + b"\n".join(rows) + b"\n"


def post_train(d, content, **params):
    fields = {"model": "txt"}
    fields.update(params)
    return requests.post(d.url("/train"), data=fields, files={"file": ("x.csv", content, "text/csv")})


def post_csv(d, content, model="txt-ok"):
    return requests.post(d.url("/models/%s/predict" % model), data=content,
                         headers={"Content-Type": "text/csv"})


def strict(r):
    """The reply's JSON, decoded as strict UTF-8."""
    return json.loads(r.content.decode("utf-8", "strict"))


def test_nul_in_a_csv_cell_is_refused_with_line_and_column(daemon):
    content = csv_with(7, b"set\x00osa")
    body = error_of(post_train(daemon, content), 400)
    assert body["details"] == {"line": 7, "column": "species"}, body
    assert "NUL" in body["error"]
    # the same at CSV /predict (the label column is one more input column there)
    j = train(daemon.base, "txt-ok", content=IRIS, params={"epochs": 3})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    body2 = error_of(post_csv(daemon, content), 400)
    assert body2["details"] == body["details"] and body2["error"] == body["error"]
    # a NUL in a feature cell too, quoted or not
    quoted = HEADER + b"\n" + b'5.1,"3\x005",1.4,0.2,setosa\n'
    body3 = error_of(post_csv(daemon, quoted), 400)
    assert body3["details"] == {"line": 2, "column": "sepal_width_cm"}, body3


def test_bytes_that_are_not_utf8_are_refused_at_the_door(daemon):
    # a header name
    bad_header = HEADER.replace(b"species", b"spe\xff\xfecies") + b"\n" + b"\n".join(ROWS)
    body = error_of(post_train(daemon, bad_header, label="sepal_length_cm"), 400)
    assert body["details"] == {"line": 1, "column": 5}, body
    assert "UTF-8" in body["error"]
    # a class
    body = error_of(post_train(daemon, csv_with(4, b"set\xffosa")), 400)
    assert body["details"] == {"line": 4, "column": "species"}, body
    # a parameter value (form) and a model name
    body = error_of(post_train(daemon, IRIS, label="spe\xffcies".encode("latin-1")), 400)
    assert body["details"]["parameter"] == "label"
    error_of(post_train(daemon, IRIS, model=b"ir\xffis"), 400)
    # a JSON body: an import whose class holds a raw 0xff byte
    j = train(daemon.base, "txt-exp", content=IRIS, params={"epochs": 2})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    doc = requests.get(daemon.url("/models/txt-exp/export")).json()
    text = json.dumps(doc, ensure_ascii=False).encode()
    assert b'"setosa"' in text
    raw = text.replace(b'"setosa"', b'"set\xffosa"', 1)
    r = requests.post(daemon.url("/models/txt-imp/import"), data=raw,
                      headers={"Content-Type": "application/json"})
    body = error_of(r, 400)
    assert body["details"]["line"] == 1 and body["details"]["column"] >= 1
    assert "UTF-8" in body["error"]
    assert requests.get(daemon.url("/models/txt-imp")).status_code == 404  # nothing stored
    # well-formed UTF-8 passes: a class "séto-ßa" trains and comes back whole
    utf = csv_with(2, "séto-ßa".encode())
    j = train(daemon.base, "txt-utf", content=utf, params={"epochs": 2})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    card = strict(requests.get(daemon.url("/models/txt-utf")))
    assert "séto-ßa" in json.dumps(card, ensure_ascii=False), card


def test_names_echoed_in_errors_are_utf8(daemon):
    # a model name in the path, the query or a JSON body, cut or not: the reply is UTF-8
    for path in ("/models/caf%C3%A9%FF", "/models/%FF%FE", "/models/" + "%C3%A9" * 40,
                 "/models/%FF/versions/1"):
        r = requests.get(daemon.url(path))
        assert r.status_code in (400, 404), (path, r.text)
        strict(r)
    r = requests.post(daemon.url("/predict?model=%FFx"), data=b"a\n1\n", headers={"Content-Type": "text/csv"})
    assert r.status_code in (400, 404)
    strict(r)
    r = requests.post(daemon.url("/predict"), json={"model": "é" * 40, "instances": [IRIS_ROW]})
    assert r.status_code in (400, 404)
    assert "é" * 10 in strict(r)["error"]  # whole characters kept
    r = requests.post(daemon.url("/train?model=a&epochs=%FF"), data=IRIS, headers={"Content-Type": "text/csv"})
    assert error_of(r, 400)["details"]["parameter"] == "epochs"


def test_a_malformed_csv_is_the_same_error_at_train_and_predict(daemon):
    j = train(daemon.base, "txt-ok", content=IRIS, params={"epochs": 3})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    wide = (",".join("c%d" % i for i in range(100000)) + "\n" + ",".join("1" for _ in range(100000)) + "\n").encode()
    for content in (wide, HEADER + b"\n5.1,3.5,\"1.4\n", HEADER + b"\n5.1,3.5,1.4,0.2,setosa,extra\n"):
        a = error_of(post_train(daemon, content), 400)
        b = error_of(post_csv(daemon, content), 400)
        assert (a["code"], a["details"], a["error"]) == (b["code"], b["details"], b["error"]), (a, b)
