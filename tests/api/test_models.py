"""Models: list, cards, versions, pin and un-pin, delete, export and import."""
import requests

from conftest import IRIS_ROW, data, error_of, train, wait_job


def trained(base, model, params=None, path="iris_train.csv"):
    job = train(base, model, data(path), params or {"epochs": 3})
    done = wait_job(base, job["id"])
    assert done["status"] == "succeeded", done
    return done


def test_versions_pin_unpin(daemon):
    base = daemon.base
    v1 = trained(base, "pin")["model_version"]
    v2 = trained(base, "pin", {"epochs": 2, "seed": 7})["model_version"]
    assert (v1, v2) == (1, 2)
    card = requests.get(daemon.url("/models/pin")).json()
    assert card["name"] == "pin" and card["version"] == 2 and card["versions"] == [1, 2]
    assert card["task"] == "classification"
    assert [i["name"] for i in card["inputs"]] == ["sepal_length_cm", "sepal_width_cm",
                                                   "petal_length_cm", "petal_width_cm"]
    assert card["label"]["name"] == "species"
    assert card["label"]["classes"] == ["setosa", "versicolor", "virginica"]
    assert "architecture" in card and "metrics" in card and card["job_id"]
    # list
    models = {m["name"]: m for m in requests.get(daemon.url("/models")).json()["models"]}
    assert models["pin"]["version"] == 2 and models["pin"]["versions"] == [1, 2]
    assert models["pin"]["task"] == "classification" and models["pin"]["created_at"]
    # predictions come from the newest
    p = requests.post(daemon.url("/predict"), json={"model": "pin", "instances": [IRIS_ROW]}).json()
    assert p["version"] == 2
    # pin version 1: served by the next request
    r = requests.put(daemon.url("/models/pin/serving"), json={"version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["pinned"] is True
    p = requests.post(daemon.url("/predict"), json={"model": "pin", "instances": [IRIS_ROW]}).json()
    assert p["version"] == 1
    assert requests.get(daemon.url("/models")).json()["models"][0]["name"]
    # a new version does not move a pin
    v3 = trained(base, "pin", {"epochs": 2, "seed": 9})["model_version"]
    assert v3 == 3
    assert requests.get(daemon.url("/models/pin")).json()["version"] == 1
    # un-pin: the newest again
    r = requests.put(daemon.url("/models/pin/serving"), json={"version": None})
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["pinned"] is False
    p = requests.post(daemon.url("/predict"), json={"model": "pin", "instances": [IRIS_ROW]}).json()
    assert p["version"] == 3
    # errors
    error_of(requests.put(daemon.url("/models/pin/serving"), json={"version": 99}), 404)
    error_of(requests.put(daemon.url("/models/nope/serving"), json={"version": 1}), 404)
    body = error_of(requests.put(daemon.url("/models/pin/serving"), json={"versio": 1}), 400)
    assert body["details"]["field"] == "version"
    error_of(requests.put(daemon.url("/models/pin/serving"), json={"version": "1"}), 400)
    error_of(requests.put(daemon.url("/models/pin/serving"), data="{nope",
                          headers={"Content-Type": "application/json"}), 400)


def test_version_card_and_delete(daemon):
    base = daemon.base
    trained(base, "del")
    trained(base, "del", {"epochs": 2})
    card1 = requests.get(daemon.url("/models/del/versions/1")).json()
    assert card1["version"] == 1 and card1["versions"] == [1, 2]
    error_of(requests.get(daemon.url("/models/del/versions/3")), 404)
    error_of(requests.get(daemon.url("/models/del/versions/x")), 404)
    error_of(requests.get(daemon.url("/models/nosuch")), 404)
    # pin 2, delete 2: the pin goes, 1 is served
    requests.put(daemon.url("/models/del/serving"), json={"version": 2})
    r = requests.delete(daemon.url("/models/del/versions/2"))
    assert r.status_code == 204 and r.content == b""
    card = requests.get(daemon.url("/models/del")).json()
    assert card["version"] == 1 and card["versions"] == [1]
    p = requests.post(daemon.url("/models/del/predict"), json={"instances": [IRIS_ROW]}).json()
    assert p["version"] == 1
    error_of(requests.delete(daemon.url("/models/del/versions/2")), 404)
    # numbers are never reused
    assert trained(base, "del")["model_version"] == 3
    # delete the whole model: 404 afterwards, and a new training starts at 1
    assert requests.delete(daemon.url("/models/del")).status_code == 204
    error_of(requests.get(daemon.url("/models/del")), 404)
    error_of(requests.post(daemon.url("/predict"), json={"model": "del", "instances": [IRIS_ROW]}), 404)
    assert "del" not in [m["name"] for m in requests.get(daemon.url("/models")).json()["models"]]
    error_of(requests.delete(daemon.url("/models/del")), 404)
    assert trained(base, "del")["model_version"] == 1


def test_export_import_roundtrip(daemon):
    trained(daemon.base, "exp")
    r = requests.get(daemon.url("/models/exp/export"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["name"] == "exp" and doc["version"] == 1
    assert doc["task"] == "classification"
    r = requests.post(daemon.url("/models/imp/import"), json=doc)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/models/imp/versions/1"
    card = r.json()
    assert card["name"] == "imp" and card["version"] == 1 and card["job_id"] is None
    rows = [IRIS_ROW, [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
    a = requests.post(daemon.url("/predict"), json={"model": "exp", "instances": rows}).json()
    b = requests.post(daemon.url("/predict"), json={"model": "imp", "instances": rows}).json()
    assert [p["label"] for p in a["predictions"]] == [p["label"] for p in b["predictions"]]
    for pa, pb in zip(a["predictions"], b["predictions"]):
        for k in pa["probabilities"]:
            assert abs(pa["probabilities"][k] - pb["probabilities"][k]) < 1e-5
    # a second import is version 2 of the same name
    assert requests.post(daemon.url("/models/imp/import"), json=doc).headers["Location"] == \
        "/models/imp/versions/2"
    error_of(requests.get(daemon.url("/models/nosuch/export")), 404)
    error_of(requests.get(daemon.url("/models/exp/export?version=7")), 404)


def test_import_errors(daemon):
    error_of(requests.post(daemon.url("/models/bad/import"), data="{not json",
                           headers={"Content-Type": "application/json"}), 400)
    body = error_of(requests.post(daemon.url("/models/bad/import"), json={"task": "classification"}), 400)
    assert body["details"].get("field")
    error_of(requests.get(daemon.url("/models/bad")), 404)


def test_import_one_neuron_spam(daemon):
    doc = {"task": "classification",
           "inputs": [{"name": "caps", "type": "numeric", "scale": False},
                      {"name": "viagra", "type": "numeric", "scale": False}],
           "label": {"name": "spam", "classes": ["ham", "spam"]},
           "layers": [{"weights": [[7, 3]], "bias": [-2], "activation": "sigmoid"}]}
    r = requests.post(daemon.url("/models/neuron/import"), json=doc)
    assert r.status_code == 201, r.text
    p = requests.post(daemon.url("/predict"),
                      json={"model": "neuron", "instances": [{"caps": 1, "viagra": 0}]}).json()
    pred = p["predictions"][0]
    assert pred["label"] == "spam"
    assert abs(pred["probability"] - 0.9933) < 1e-4
    assert abs(pred["probabilities"]["spam"] - 0.9933) < 1e-4
    assert abs(pred["probabilities"]["ham"] - 0.0067) < 1e-4
