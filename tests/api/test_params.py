"""The training parameters are one table (model/params.c), printed by `neurond params --json`;
every other form of them is made from it and must not differ: the /train parameters of
docs/openapi.json (form fields and query), the table in docs/api.md, the options of `neurond
train` (its --help, and what it accepts), and the job's `params` over HTTP (defaults filled
in, a key per parameter, in table order)."""
import json
import os
import re
import subprocess

import requests

from conftest import NEUROND, ROOT, data, train, wait_job

DOC = os.path.join(ROOT, "docs", "openapi.json")
API_MD = os.path.join(ROOT, "docs", "api.md")


def table():
    p = subprocess.run([NEUROND, "params", "--json"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["parameters"]
    assert len(rows) >= 18 and len({r["name"] for r in rows}) == len(rows)
    return rows


def as_text(v):
    """A JSON value as the text a form field carries."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(as_text(x) for x in v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def test_openapi_train_parameters_are_the_table():
    with open(DOC) as f:
        op = json.load(f)["paths"]["/train"]["post"]
    rows = table()
    query = [p for p in op["parameters"] if p["name"] != "model"]
    form = {k: v for k, v in op["requestBody"]["content"]["multipart/form-data"]["schema"]
            ["properties"].items() if k not in ("model", "file")}
    assert [p["name"] for p in query] == [r["name"] for r in rows]
    assert list(form) == [r["name"] for r in rows]
    for p, r in zip(query, rows):
        assert p["in"] == "query" and p["required"] is False
        assert r["default_text"] in p["description"] and r["accepts"] in p["description"]
        for schema in (p["schema"], form[r["name"]]):
            # numbers are numbers with the table's range; the rest is text
            want_type = r["type"] if r["type"] in ("integer", "number") else "string"
            assert schema["type"] == want_type, r["name"]
            assert schema.get("enum") == r.get("choices"), r["name"]
            for key, flag in (("minimum", "exclusive_minimum"), ("maximum", "exclusive_maximum")):
                if want_type != "string" and key in r:
                    assert schema[key] == r[key], (r["name"], key)
                    assert schema.get("exclusiveM" + key[1:], False) == r.get(flag, False), (r["name"], key)
                else:
                    assert key not in schema, (r["name"], key)


def test_api_md_table_is_the_table():
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "params-doc.py"),
                        "--check"], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, BIN=os.path.dirname(NEUROND)))
    assert p.returncode == 0, p.stdout + p.stderr
    with open(API_MD) as f:
        text = f.read()
    part = text.split("<!-- params: made by")[1].split("<!-- params: end -->")[0]
    names = re.findall(r"^\| `([a-z_0-9]+)` \| `(--[a-z-0-9]+)` \|", part, re.M)
    assert names == [(r["name"], r["option"]) for r in table()]


def test_cli_options_are_the_table(tmp_path):
    rows = table()
    p = subprocess.run([NEUROND, "train", "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    listed = re.findall(r"^  (--[a-z0-9-]+) ", p.stdout, re.M)
    assert listed == [r["option"] for r in rows]
    missing = str(tmp_path / "missing.csv")
    for r in rows:
        value = r["default"] if r["default"] is not None else "1"
        if r["type"] in ("string", "list"):
            value = "x"
        elif r["type"] == "number" and r["default"] is None:
            value = str((r["minimum"] + r["maximum"]) / 2)
        elif r["type"] == "choice" and r["default"] is None:
            value = r["choices"][0]
        # accepted: the option is read, then the missing file is the error (exit 1)
        p = subprocess.run([NEUROND, "train", missing, "-o", str(tmp_path / "m.nrd"),
                            r["option"], value], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "missing.csv" in p.stderr, (r["option"], p.stderr)
        # --name=value is the same option
        p = subprocess.run([NEUROND, "train", missing, "-o", str(tmp_path / "m.nrd"),
                            f"{r['option']}={value}"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "missing.csv" in p.stderr, (r["option"], p.stderr)
    p = subprocess.run([NEUROND, "train", missing, "-o", "m.nrd", "--epochs", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "'epochs'" in p.stderr and "from 1 to 100000" in p.stderr


def test_job_params_are_the_table(daemon):
    rows = table()
    job = train(daemon.base, "params-defaults", path=data("iris_train.csv"),
                params={"epochs": "1"})
    params = job["params"]
    # a key per parameter in table order (those left out while not given aside)
    given = [r["name"] for r in rows if r["name"] in params]
    assert list(params) == given
    assert set(r["name"] for r in rows) - set(given) == {"threshold", "target_fpr", "base"}
    for r in rows:
        if r["name"] == "epochs":
            assert params["epochs"] == 1
        elif r["default"] is not None:
            assert as_text(params[r["name"]]) == r["default"], r["name"]
        elif r["name"] in params and r["name"] != "learning_rate":
            assert params[r["name"]] is None, r["name"]


def test_yes_no_parameters_are_json_booleans(daemon):
    """`auto` and `ensemble` (every "boolean" row of the table) are JSON true/false in the
    job's params and the model card's, whichever word was sent (true, 1, yes), not the
    strings "true"/"false"; an auto job is still recognised as one (its leaderboard)."""
    rows = table()
    booleans = [r["name"] for r in rows if r["type"] == "boolean"]
    assert {"auto", "ensemble"} <= set(booleans)
    # no other row offers a yes/no as words
    assert not [r["name"] for r in rows if r["type"] == "choice" and "true" in r["choices"]]
    plain = wait_job(daemon.base, train(daemon.base, "params-plain", path=data("iris_train.csv"),
                                        params={"epochs": "1"})["id"])
    assert plain["params"]["auto"] is False and plain["params"]["ensemble"] is True
    assert "leaderboard" not in plain
    job = train(daemon.base, "params-bool", path=data("iris_train.csv"),
                params={"auto": "yes", "ensemble": "0", "max_models": "1", "max_seconds": "0",
                        "folds": "2", "epochs": "2"})
    assert job["params"]["auto"] is True and job["params"]["ensemble"] is False
    done = wait_job(daemon.base, job["id"])
    assert done["status"] == "succeeded", done
    assert done["params"]["auto"] is True and done["params"]["ensemble"] is False
    assert len(done["leaderboard"]) == 1
    card = requests.get(daemon.url("/models/params-bool")).json()
    for name in booleans:
        assert isinstance(card["params"][name], bool), (name, card["params"][name])
    assert card["params"]["auto"] is True
