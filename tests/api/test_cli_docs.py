"""The version and the man page, each from one place.

`neurond --version` and `neurond version` print the VERSION file's version (plus the git
revision in a checkout); the KServe server metadata and the OpenAPI document carry the same.
The man page made by scripts/man.py from the binary's help texts renders (groff -man, when
groff is installed; otherwise only its generation is checked) and names every subcommand of
cli/main.c's table, every training option and every `serve` flag; `neurond --help` names
every subcommand too."""
import json
import os
import re
import shutil
import subprocess

import requests

from conftest import NEUROND, ROOT


def version_file():
    with open(os.path.join(ROOT, "VERSION")) as f:
        v = f.read().strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+", v), v
    return v


def commands():
    """The subcommands of cli/main.c's table (the options spelled as commands aside)."""
    with open(os.path.join(ROOT, "cli", "main.c")) as f:
        text = f.read()
    table = text[text.index("commands[] = {"):]
    table = table[:table.index("};")]
    names = [n for n in re.findall(r'\{"([^"]+)", ', table) if not n.startswith("-")]
    assert {"train", "serve", "params", "version"} <= set(names), names
    return names


def run(*args):
    p = subprocess.run([NEUROND, *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_version_from_one_place(daemon):
    v = version_file()
    out = run("--version")
    assert run("version") == out
    m = re.fullmatch(rf"neurond {re.escape(v)}(?: \(git ([0-9a-f]{{12}})\))?\n", out)
    assert m, out
    if m.group(1) and os.path.exists(os.path.join(ROOT, ".git")):
        # the revision the binary was built from (make rebuilds it when HEAD moves)
        assert subprocess.run(["git", "cat-file", "-e", m.group(1) + "^{commit}"],
                              cwd=ROOT).returncode == 0, out
    assert requests.get(daemon.url("/v2")).json()["version"] == v
    with open(os.path.join(ROOT, "docs", "openapi.json")) as f:
        assert json.load(f)["info"]["version"] == v


def test_help_names_every_command():
    text = run("--help")
    for name in commands():
        assert re.search(rf"^  {re.escape(name)}\b", text, re.M), name


def test_man_page(tmp_path):
    p = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "man.py"), NEUROND],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    page = tmp_path / "neurond.1"
    page.write_text(p.stdout)
    assert p.stdout.startswith('.\\"') and "\n.TH NEUROND 1 " in p.stdout
    if shutil.which("groff") is None:
        return  # nothing renders here: the generation is what can be checked
    r = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=200n", "-ww", str(page)],
                       capture_output=True, timeout=60, env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and not r.stderr, r.stderr
    text = re.sub(r".\x08", "", r.stdout.decode())  # drop overstrike (bold)
    text = text.replace("\u2010", "-").replace("\u2212", "-")
    for section in ("NAME", "SYNOPSIS", "COMMANDS", "TRAINING", "SERVING", "VERSION"):
        assert re.search(rf"^{section}$", text, re.M), section
    commands_part = text[text.index("\nCOMMANDS"):text.index("\nTRAINING")]
    for name in commands():
        assert re.search(rf"^ +{re.escape(name)}\b", commands_part, re.M), name
    for row in json.loads(run("params", "--json"))["parameters"]:
        assert row["option"] in text, row["option"]
    for flag in re.findall(r"^  (--[a-z0-9-]+)", run("serve", "--help"), re.M):
        assert flag in text, flag
    assert version_file() in text
