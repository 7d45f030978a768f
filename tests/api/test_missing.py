"""Missing values over HTTP: a CSV as R writes it (row names, NA, quoted strings) trains a
numeric model whose card lists every column; a JSON null is a missing value; an instance
lacking an input is 422 naming it."""
import requests

from conftest import error_of, train, wait_job

R_CSV = '"","x","colour","mail","y"\n' + "".join(
    '"%d",%s,%s,"u%d@example.org","%s"\n' % (
        i + 1, "NA" if i % 6 == 0 else "%.1f" % (i % 10 + (i % 2) * 5),
        "NA" if i % 5 == 0 else ('"red"' if i % 2 else '"blue"'), i, "a" if i % 2 else "b")
    for i in range(120))


def test_r_file_card_and_instances(daemon):
    j = train(daemon.base, "miss-r", content=R_CSV.encode(), params={"epochs": 20})
    assert wait_job(daemon.base, j["id"])["status"] == "succeeded"
    card = requests.get(daemon.url("/models/miss-r")).json()
    cols = {c["name"]: c for c in card["columns"]}
    assert cols["x"]["type"] == "numeric" and cols["x"]["missing"] == 20
    assert cols["colour"]["type"] == "categorical" and cols["colour"]["missing"] == 24
    assert cols[""]["type"] == "ignored" and "row id" in cols[""]["reason"]
    assert cols["mail"]["type"] == "ignored" and cols["mail"]["distinct"] == 120
    assert cols["y"]["type"] == "label"
    assert [i["name"] for i in card["inputs"]] == ["x", "colour"]
    assert "NA" in card["params"]["na_values"] and card["params"]["impute"] == "median"

    ok = requests.post(daemon.url("/predict"), json={"model": "miss-r", "instances": [
        {"x": None, "colour": None}, {"x": "NA", "colour": "?"}, {"x": 3, "colour": "red"}]})
    assert ok.status_code == 200, ok.text
    p = ok.json()["predictions"]
    assert p[0] == p[1]  # null and a marker are the same missing value
    bad = requests.post(daemon.url("/predict"),
                        json={"model": "miss-r", "instances": [{"x": 1, "color": "red"}]})
    body = error_of(bad, 422)
    assert body["details"]["field"] in ("instances[0].color", "instances[0].colour")
    typo = requests.post(daemon.url("/predict"),
                         json={"model": "miss-r", "instances": [{"x": 1}]})
    body = error_of(typo, 422)
    assert body["details"]["field"] == "instances[0].colour"
    assert "missing" in body["error"]
