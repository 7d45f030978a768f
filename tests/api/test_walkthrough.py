"""The README's curl walk-through (examples/walkthrough.sh) against a real daemon."""
import os
import subprocess

from conftest import ROOT


def test_walkthrough(make_daemon):
    d = make_daemon(["--workers", "1"])
    out = subprocess.run(["sh", os.path.join(ROOT, "examples", "walkthrough.sh"), d.base],
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    assert '"status":"succeeded"' in text
    assert '"predictions"' in text and '"label"' in text
    assert '"models"' in text
    assert '"pinned":true' in text
    assert '"layers"' in text or '"inputs"' in text  # the export
