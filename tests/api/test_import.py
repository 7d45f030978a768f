"""Model imports that the daemon must refuse before they cost it (issue 17 items 11, 12): a
format_version newer than it reads, and documents whose counts (inputs, layers, weights) pass
its limits — refused while the text is scanned, before a tree is built, so memory stays
within about twice the body."""
import json

import requests

from conftest import IRIS_ROW, data, error_of, train, wait_job


def exported(d, name="imp-src"):
    j = train(d.base, name, path=data("iris_train.csv"), params={"epochs": 2})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    return requests.get(d.url("/models/%s/export" % name)).json()


def test_newer_format_version_is_refused(daemon):
    doc = exported(daemon)
    assert doc["format_version"] == 1
    for bad in (999, 2, 0, 1.5, "1", None):
        doc["format_version"] = bad
        body = error_of(requests.post(daemon.url("/models/imp-fv/import"), json=doc), 400)
        assert body["details"]["field"] == "format_version", body
        assert "reads format_version 1 to 1" in body["error"], body
    assert requests.get(daemon.url("/models/imp-fv")).status_code == 404
    doc["format_version"] = 1
    assert requests.post(daemon.url("/models/imp-fv/import"), json=doc).status_code == 201
    del doc["format_version"]  # a hand-written model may leave it out
    assert requests.post(daemon.url("/models/imp-fv/import"), json=doc).status_code == 201
    r = requests.post(daemon.url("/models/imp-fv/predict"), json={"instances": [IRIS_ROW]})
    assert r.status_code == 200
