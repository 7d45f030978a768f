"""The training-parameter table as the binary prints it (`$BIN/neurond params --json`, from
model/params.c), for scripts/openapi.py and scripts/params-doc.py. BIN defaults to bin."""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def table():
    """The rows: [{"name", "option", "type", "default", "default_text", ...}]."""
    binary = os.path.join(ROOT, os.environ.get("BIN", "bin"), "neurond")
    out = subprocess.run([binary, "params", "--json"], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return json.loads(out)["parameters"]
