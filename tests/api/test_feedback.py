"""Learning from feedback (issue 21): warm-start training (base=), feedback, retraining with
replay, the champion/challenger gate."""
import requests

from conftest import data, error_of, train, wait_job


def iris_csv():
    with open(data("iris_train.csv")) as f:
        return f.read()


def trained(base, model, params=None, content=None):
    job = train(base, model, params=params, content=(content or iris_csv()).encode())
    done = wait_job(base, job["id"])
    assert done["status"] == "succeeded", done
    return done


def test_warm_start_lineage_and_defaults(daemon):
    trained(daemon.base, "warm-a", {"epochs": 40, "hidden": "8"})
    done = trained(daemon.base, "warm-a", {"base": "warm-a"})
    # the base resolved to the version it started from; the warm defaults used
    assert done["params"]["base"] == "warm-a@1"
    assert done["params"]["epochs"] == 30 and done["params"]["patience"] == 5
    assert abs(done["params"]["learning_rate"] - 0.0003) < 1e-9
    assert done["params"]["hidden"] == [8]  # the base's network, not the default
    assert len(done["history"]) <= 30
    card = requests.get(daemon.url("/models/warm-a")).json()
    assert card["version"] == 2
    assert card["base"] == "warm-a@1"
    assert card["warm_start"]["base"] == "warm-a@1"
    assert card["warm_start"]["rows"] == 120
    assert card["architecture"]["layers"] == [4, 8, 3]
    # another model may start from it, a version given
    done = trained(daemon.base, "warm-b", {"base": "warm-a@1", "epochs": 3})
    assert done["params"]["epochs"] == 3
    assert requests.get(daemon.url("/models/warm-b")).json()["base"] == "warm-a@1"


def test_warm_start_mismatch_400(daemon):
    trained(daemon.base, "warm-m", {"epochs": 5, "hidden": "4"})
    lines = iris_csv().splitlines()
    # a column the base does not know
    extra = "\n".join([lines[0] + ",colour"] + [l + ",red" for l in lines[1:]]) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", extra)}), 400)
    assert body["details"]["column"] == "colour", body
    # an input missing
    cut = "\n".join(",".join(l.split(",")[1:]) for l in lines) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", cut)}), 400)
    assert body["details"]["column"] == "sepal_length_cm", body
    # a class the base does not know: the label column and the line; the class in the message
    bad = "\n".join(lines[:3] + [lines[3].rsplit(",", 1)[0] + ",daisy"] + lines[4:]) + "\n"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m"},
                                  files={"file": ("x.csv", bad)}), 400)
    assert body["details"]["column"] == "species" and body["details"]["line"] == 4, body
    assert "daisy" in body["error"]
    # no such base
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "nope@3"},
                                  files={"file": ("x.csv", iris_csv())}), 400)
    assert body["details"]["parameter"] == "base"
    body = error_of(requests.post(daemon.url("/train"), data={"model": "warm-m", "base": "warm-m@x"},
                                  files={"file": ("x.csv", iris_csv())}), 400)
    assert body["details"]["parameter"] == "base"
    # no job was made by any of them
    jobs = requests.get(daemon.url("/jobs?model=warm-m")).json()["jobs"]
    assert len(jobs) == 1
