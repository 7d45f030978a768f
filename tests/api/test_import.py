"""Model imports that the daemon must refuse before they cost it (issue 17 items 11, 12): a
format_version newer than it reads, and documents whose counts (inputs, layers, weights) pass
its limits — refused while the text is scanned, before a tree is built, so memory stays
within about twice the body."""
import json

import requests

from conftest import IRIS_ROW, SANITIZED, data, error_of, train, wait_job


def exported(d, name="imp-src"):
    j = train(d.base, name, path=data("iris_train.csv"), params={"epochs": 2, "ensemble": "false"})
    assert wait_job(d.base, j["id"])["status"] == "succeeded"
    return requests.get(d.url("/models/%s/export" % name)).json()


def test_newer_format_version_is_refused(daemon):
    doc = exported(daemon)
    assert doc["format_version"] == 4  # one network (an ensemble exports as 5)
    for bad in (999, 6, 0, 1.5, "1", None):
        doc["format_version"] = bad
        body = error_of(requests.post(daemon.url("/models/imp-fv/import"), json=doc), 400)
        assert body["details"]["field"] == "format_version", body
        assert "reads format_version 1 to 5" in body["error"], body
    assert requests.get(daemon.url("/models/imp-fv")).status_code == 404
    doc["format_version"] = 3  # an older export still imports
    assert requests.post(daemon.url("/models/imp-fv/import"), json=doc).status_code == 201
    doc["format_version"] = 4
    assert requests.post(daemon.url("/models/imp-fv/import"), json=doc).status_code == 201
    del doc["format_version"]  # a hand-written model may leave it out
    assert requests.post(daemon.url("/models/imp-fv/import"), json=doc).status_code == 201
    r = requests.post(daemon.url("/models/imp-fv/predict"), json={"instances": [IRIS_ROW]})
    assert r.status_code == 200


def big_doc(n_inputs, n_layers=1, width=3):
    """A model document's text with n_inputs numeric inputs, built as bytes (no big tree here)."""
    inputs = b",".join(b'{"name":"c%d","type":"numeric","mean":0.5,"scale":1.5}' % i
                       for i in range(n_inputs))
    row = b"[" + b",".join([b"0.125"] * n_inputs) + b"]"
    first = b'{"weights":[' + b",".join([row] * width) + b'],"bias":[' + b",".join([b"0"] * width) + \
        b'],"activation":"%s"}' % (b"softmax" if n_layers == 1 else b"relu")
    wrow = b"[" + b",".join([b"0.25"] * width) + b"]"
    mid = b'{"weights":[' + b",".join([wrow] * width) + b'],"bias":[' + b",".join([b"0"] * width) + \
        b'],"activation":"relu"}'
    last = b'{"weights":[' + b",".join([wrow] * 3) + b'],"bias":[0,0,0],"activation":"softmax"}'
    layers = [first] + [mid] * max(0, n_layers - 2) + ([last] if n_layers > 1 else [])
    return (b'{"format":"neurond-model","format_version":1,"task":"classification",'
            b'"label":{"name":"y","classes":["a","b","c"]},"inputs":[' + inputs + b'],"layers":[' +
            b",".join(layers) + b"]}")


def post_import(d, body, name="imp-big"):
    return requests.post(d.url("/models/%s/import" % name), data=body,
                         headers={"Content-Type": "application/json"})


def test_counts_past_the_limits_are_refused_before_parsing(make_daemon):
    d = make_daemon(["--workers", "1", "--max-csv-columns", "50", "--max-params", "2000"])
    assert post_import(d, big_doc(50)).status_code == 201, post_import(d, big_doc(50)).text
    body = error_of(post_import(d, big_doc(51)), 400)
    assert body["details"] == {"field": "inputs", "limit": 50}, body
    assert "51 inputs" in body["error"] and "--max-csv-columns" in body["error"]
    body = error_of(post_import(d, big_doc(4, n_layers=10)), 400)
    assert body["details"] == {"field": "layers", "limit": 9}, body
    body = error_of(post_import(d, big_doc(40, width=60)), 400)  # 40*60 + 60 + ... > 2000
    assert body["details"] == {"field": "layers", "limit": 2000}, body
    assert "--max-params" in body["error"]
    assert requests.get(d.url("/models/imp-big")).json()["versions"] == [1]


def test_a_huge_import_is_refused_within_twice_its_size(make_daemon):
    """The probe's case: a million inputs. Refused from the counts: the daemon's peak memory
    grows by about the body, not by the ~9x a cJSON tree of it costs."""
    d = make_daemon(["--workers", "1"])
    body = big_doc(400000)
    assert len(body) > 25e6
    before = d.rss_kb("VmHWM")
    r = post_import(d, body)
    grown = (d.rss_kb("VmHWM") - before) * 1024
    print("body %.1f MB, VmHWM grew %.1f MB" % (len(body) / 1e6, grown / 1e6))
    # within twice the body; under AddressSanitizer (redzones, a quarantine of freed blocks)
    # within four times, which still fails the ~9x of a cJSON tree
    assert grown < (4 if SANITIZED else 2) * len(body), (grown, len(body))
    assert error_of(r, 400)["details"] == {"field": "inputs", "limit": 10000}
