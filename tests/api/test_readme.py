"""The README's 'Use it from Python, JavaScript or any KServe client' snippets, run as they
are written (the address swapped for a test daemon's): Python with requests, JavaScript with
node's fetch, the KServe call with curl. Each must exit 0 and print what the README says."""
import json
import os
import re
import subprocess

from conftest import ROOT

SECTION = "## Use it from Python, JavaScript or any KServe client"


def snippets():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    blocks = re.findall(r"```(\w+)\n(.*?)```", text[start:end], re.S)
    assert [lang for lang, _ in blocks] == ["python", "js", "sh"], blocks
    return dict(blocks)


def run(cmd, code, base, tmp_path, name):
    code = code.replace("http://127.0.0.1:8080", base)
    path = tmp_path / name
    path.write_text(code)
    p = subprocess.run(cmd + [str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_readme_snippets(make_daemon, tmp_path):
    d = make_daemon(["--workers", "1"])
    s = snippets()
    out = run(["/usr/bin/python3"], s["python"], d.base, tmp_path, "snippet.py").splitlines()
    assert re.fullmatch(r"succeeded val_accuracy (1|0\.\d+)", out[0]), out
    assert float(out[0].split()[-1]) >= 0.85
    assert out[1] == "setosa"
    out = run(["node"], s["js"], d.base, tmp_path, "snippet.mjs")
    assert out.startswith("virginica {"), out
    out = run(["sh"], s["sh"], d.base, tmp_path, "snippet.sh")
    body = json.loads(out)
    assert body["model_name"] == "iris" and body["model_version"] == "1" and body["id"] == "1"
    assert body["outputs"][1]["data"] == ["setosa", "virginica"]
    assert body["outputs"][0]["shape"] == [2, 3]
