"""GET /openapi.json: the document the daemon serves is docs/openapi.json, a valid OpenAPI 3
document (checked by a real validator, @apidevtools/swagger-parser, run with node), it lists
exactly the routes of the router's table (server/router.c), and live replies fit its
schemas (python3-jsonschema). The validator's packages (tests/browser/package-lock.json) all
run on the oldest node that scripts/deps.sh installs: Debian 12's nodejs 18."""
import copy
import json
import os
import re
import subprocess

import jsonschema
import pytest
import requests

from conftest import IRIS_ROW, ROOT, data, error_of, train, wait_job

BROWSER = os.path.join(ROOT, "tests", "browser")
DOC = os.path.join(ROOT, "docs", "openapi.json")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# the oldest node a Debian 12 (bookworm) install can have: 12.0 shipped nodejs 18.13.0 (apt
# installs 18.20 today; trixie has 20)
OLDEST_NODE = (18, 13, 0)


def router_routes():
    with open(os.path.join(ROOT, "server", "router.c")) as f:
        text = f.read()
    routes = set(re.findall(r'X\("([A-Z]+)", "([^"]+)"', text))
    assert len(routes) > 20, routes
    return routes


def doc_routes(doc):
    out = set()
    for path, item in doc["paths"].items():
        for m in item:
            if m in METHODS:
                out.add((m.upper(), re.sub(r"\{[^}]+\}", "*", path)))
    return out


def validate(path):
    if not os.path.isdir(os.path.join(BROWSER, "node_modules")):
        pytest.fail("tests/browser/node_modules is missing: run tests/browser/setup.sh")
    return subprocess.run(["node", os.path.join(BROWSER, "validate-openapi.mjs"), path],
                          capture_output=True, text=True, timeout=60)


def version(text):
    parts = text.lstrip("v=").split(".")
    assert 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts), text
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))


def node_range_allows(rng, v):
    """Whether the npm `engines.node` range `rng` (comparators >=, >, <=, <, ^ and exact
    versions, joined by spaces and ||) admits node version `v`; fails on any other form."""
    ops = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
           "<": lambda a, b: a < b, "^": lambda a, b: a >= b and a[0] == b[0], "": lambda a, b: a == b}
    for alt in rng.split("||"):
        comps = re.findall(r"(>=|<=|>|<|\^|)\s*(v?[0-9][0-9.]*)", alt)
        assert comps and re.sub(r"(>=|<=|>|<|\^|)\s*v?[0-9][0-9.]*|\s", "", alt) == "", rng
        if all(ops[op](v, version(ver)) for op, ver in comps):
            return True
    return False


def test_validator_packages_run_on_debian_node():
    assert node_range_allows(">= 16", OLDEST_NODE) and not node_range_allows(">=20", OLDEST_NODE)
    assert node_range_allows("^14.17.0 || >=16.0.0", OLDEST_NODE) and not node_range_allows("^20 || >=22", OLDEST_NODE)
    with open(os.path.join(BROWSER, "package-lock.json")) as f:
        lock = json.load(f)
    assert lock["lockfileVersion"] <= 3  # Debian 12's npm 9 reads up to 3
    assert "node_modules/@apidevtools/swagger-parser" in lock["packages"]
    too_new = {name: pkg["engines"]["node"] for name, pkg in lock["packages"].items()
               if "node" in pkg.get("engines", {}) and not node_range_allows(pkg["engines"]["node"], OLDEST_NODE)}
    assert too_new == {}, "these need a newer node than Debian 12's: pick older versions"


@pytest.fixture(scope="module")
def doc(daemon):
    r = requests.get(daemon.url("/openapi.json"))
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    with open(DOC, "rb") as f:
        assert r.content == f.read()  # the compiled-in copy is the file in the repository
    return r.json()


def test_valid_openapi3(doc, tmp_path):
    assert doc["openapi"].startswith("3.")
    p = validate(DOC)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "openapi: valid" in p.stdout
    # the validator can fail: a broken copy (an operation with no responses) is refused
    bad = copy.deepcopy(doc)
    del bad["paths"]["/healthz"]["get"]["responses"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    p = validate(str(tmp_path / "bad.json"))
    assert p.returncode == 1 and "INVALID" in p.stdout, p.stdout


def test_document_is_the_generator_output(doc):
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "openapi.py")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == doc, "run scripts/openapi.py > docs/openapi.json"


def test_every_route_and_only_routes(doc):
    routes, documented = router_routes(), doc_routes(doc)
    assert routes - documented == set(), "routes missing from docs/openapi.json"
    assert documented - routes == set(), "docs/openapi.json documents routes the router lacks"


def test_operations_well_formed(doc):
    ids = []
    for path, item in doc["paths"].items():
        names = re.findall(r"\{([^}]+)\}", path)
        for m, o in item.items():
            ids.append(o["operationId"])
            assert o["responses"] and o["summary"], (m, path)
            params = []
            for p in o.get("parameters", []):
                if "$ref" in p:
                    p = doc["components"]["parameters"][p["$ref"].split("/")[-1]]
                params.append(p)
            assert sorted(p["name"] for p in params if p["in"] == "path") == sorted(names), (m, path)
    assert len(ids) == len(set(ids))


def to_jsonschema(node, doc):
    """OpenAPI 3.0 schema -> JSON Schema: $refs inlined, nullable as a null type."""
    if isinstance(node, list):
        return [to_jsonschema(x, doc) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_jsonschema(doc["components"]["schemas"][node["$ref"].split("/")[-1]], doc)
    out = {k: to_jsonschema(v, doc) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def check(doc, path, method, status, body):
    item = doc["paths"][path][method]
    resp = item["responses"][str(status)]
    if "$ref" in resp:
        resp = doc["components"]["responses"][resp["$ref"].split("/")[-1]]
    schema = resp["content"]["application/json"]["schema"]
    jsonschema.validate(body, to_jsonschema(schema, doc))


def test_live_replies_fit_the_schemas(daemon, doc):
    d = daemon
    job = train(d.base, "oa-iris", data("iris_train.csv"), {"epochs": 5})
    check(doc, "/train", "post", 202, job)
    j = wait_job(d.base, job["id"])
    check(doc, "/jobs/{id}", "get", 200, j)
    check(doc, "/jobs", "get", 200, requests.get(d.url("/jobs")).json())
    check(doc, "/models", "get", 200, requests.get(d.url("/models")).json())
    check(doc, "/models/{name}", "get", 200, requests.get(d.url("/models/oa-iris")).json())
    check(doc, "/models/{name}/export", "get", 200, requests.get(d.url("/models/oa-iris/export")).json())
    r = requests.post(d.url("/models/oa-iris/predict"), json={"instances": [IRIS_ROW]})
    check(doc, "/models/{name}/predict", "post", 200, r.json())
    check(doc, "/v2/models/{name}", "get", 200, requests.get(d.url("/v2/models/oa-iris")).json())
    r = requests.post(d.url("/v2/models/oa-iris/infer"),
                      json={"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})
    check(doc, "/v2/models/{name}/infer", "post", 200, r.json())
    check(doc, "/v2", "get", 200, requests.get(d.url("/v2")).json())
    check(doc, "/healthz", "get", 200, requests.get(d.url("/healthz")).json())
    r = requests.get(d.url("/models/absent"))
    check(doc, "/models/{name}", "get", 404, r.json())
    r = requests.post(d.url("/v2/models/oa-iris/infer"), json={"inputs": []})
    check(doc, "/v2/models/{name}/infer", "post", 400, r.json())
    # and the check can fail: a reply missing a required field is refused
    with pytest.raises(jsonschema.ValidationError):
        check(doc, "/jobs/{id}", "get", 200, {k: v for k, v in j.items() if k != "status"})


def test_dashboard_public_openapi_needs_key(make_daemon):
    d = make_daemon(["--api-key", "sekret"])
    r = requests.get(d.url("/"))
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script src="/ui/app.js">' in r.text
    for f, ctype in (("app.js", "text/javascript"), ("style.css", "text/css")):
        r = requests.get(d.url("/ui/" + f))
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype)
        with open(os.path.join(ROOT, "web", f), "rb") as fh:
            assert r.content == fh.read()
    for f in ("index.html", "app.js", "style.css"):  # nothing from a CDN
        with open(os.path.join(ROOT, "web", f)) as fh:
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", fh.read()), f
    error_of(requests.get(d.url("/ui/missing.js")), 404)
    error_of(requests.get(d.url("/ui/.hidden")), 404)
    error_of(requests.post(d.url("/"), data="x"), 405)
    error_of(requests.get(d.url("/openapi.json")), 401)
    r = requests.get(d.url("/openapi.json"), headers={"Authorization": "Bearer sekret"})
    assert r.status_code == 200 and r.json()["openapi"].startswith("3.")
