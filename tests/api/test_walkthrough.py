"""The README's curl walk-through (examples/walkthrough.sh) against a real daemon.

Each step's output is checked in its own part of the transcript (a later step cannot pass on
an earlier reply); the export, which the script writes to $TMPDIR/iris-model.json, must be
the whole model: the card's inputs and layers whose weights fit them, and `neurond import`
must turn it back into a model file."""
import json
import os
import subprocess

from conftest import NEUROND, ROOT


def steps(text):
    """The transcript split at each "$ curl ..." line: {first words of the command: output}."""
    parts = text.split("\n$ ")[1:]
    return [(p.split("\n", 1)[0], p.split("\n", 1)[1] if "\n" in p else "") for p in parts]


def test_walkthrough(make_daemon, tmp_path):
    d = make_daemon(["--workers", "1"])
    out = subprocess.run(["sh", os.path.join(ROOT, "examples", "walkthrough.sh"), d.base],
                         capture_output=True, text=True, timeout=180, cwd=ROOT,
                         env=dict(os.environ, TMPDIR=str(tmp_path)))
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert '"status":"succeeded"' in text
    assert '"predictions"' in text and '"label"' in text
    assert '"models"' in text
    assert '"pinned":true' in text
    cmd, shown = steps(text)[-1]
    export = tmp_path / "iris-model.json"
    assert cmd.startswith("curl -o " + str(export)) and cmd.endswith("/models/iris/export"), cmd
    with open(export, "rb") as f:
        raw = f.read()
    assert shown.startswith(raw[:400].decode("utf-8", "replace")[:100])  # what it showed
    doc = json.loads(raw)
    assert doc["task"] == "classification" and doc["label"]["classes"]
    widths = [len(doc["inputs"])] + [len(ly["bias"]) for ly in doc["layers"]]
    assert widths[0] == 4 and widths[-1] == len(doc["label"]["classes"]), widths
    for ly, n_in, n_out in zip(doc["layers"], widths, widths[1:]):
        assert len(ly["weights"]) == n_out and all(len(r) == n_in for r in ly["weights"])
    p = subprocess.run([NEUROND, "import", str(export), "-o", str(tmp_path / "iris.nrd")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
