"""Explanations over HTTP: "explain" in POST /predict and /models/<name>/predict.

What: the seed's one neuron explained (caps +7 of logit, viagra 0, against zeros: the import
stores no baseline); a trained model's explanation adds up (output - baseline) and lists every
input, largest first; the same numbers from /predict and /models/<name>/predict; bad "explain"
values are 400 naming the field.
"""
import requests

from conftest import data, error_of, train, wait_job

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
