"""Issue 16's "done when", on real files: a CSV written by R's write.csv (airquality, NA cells,
row names) and one written by pandas' to_csv (breast cancer, empty cells, the index) train with
default parameters to the same task and the same numeric inputs as their clean rows do, and the
models predict and evaluate files holding markers their training file never had (NA where the
training rows had none; '?', 'NaN', 'N/A' and empty cells in a column never missing)."""
import csv
import io
import json
import math
import subprocess

from conftest import NEUROND, data

# (file, label, the file's own missing marker, the metric and its bound on the whole file)
FILES = [("airquality_r_na.csv", "Temp", "NA", "rmse", 8.0),
         ("breast_cancer_pandas_na.csv", "diagnosis", "", "accuracy", 0.9)]
OTHER_MARKERS = ["?", "NaN", "N/A", ""]


def cli(*args):
    return subprocess.run([NEUROND] + list(args), check=True, capture_output=True, text=True).stdout


def card_of(model):
    return json.loads(cli("inspect", model, "--json"))


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write(path, lines):
    """The chosen lines of the original file, byte for byte (R's quoting, pandas' index)."""
    path.write_text("".join(lines))
    return str(path)


def check_file(tmp_path, name, label, marker, metric, bound):
    src = data(name)
    with open(src, newline="") as f:
        lines = f.readlines()
    parsed = rows_of(src)
    # the first field is the row name / index: never missing
    clean = [lines[0]] + [ln for ln, r in zip(lines[1:], parsed[1:]) if marker not in r[1:]]
    assert 50 < len(clean) < len(lines), "the file has rows with and without missing cells"
    clean_csv = write(tmp_path / "clean.csv", clean)
    m_clean, m_full = str(tmp_path / "clean.nrd"), str(tmp_path / "full.nrd")
    cli("train", clean_csv, "-o", m_clean, "--label", label, "--quiet")
    cli("train", src, "-o", m_full, "--label", label, "--quiet")
    a, b = card_of(m_clean), card_of(m_full)
    assert a["task"] == b["task"] == ("regression" if metric == "rmse" else "classification")
    assert [(i["name"], i["type"]) for i in a["inputs"]] == [(i["name"], i["type"]) for i in b["inputs"]]
    assert {i["type"] for i in b["inputs"]} == {"numeric"}, b["inputs"]
    missing = {c["name"]: c["missing"] for c in b["columns"]}
    assert sum(missing.values()) == sum(r[1:].count(marker) for r in parsed[1:])
    assert all(v == 0 for v in {c["name"]: c["missing"] for c in a["columns"]}.values())

    # the clean model meets the file's own markers, which its training file never had
    ev = json.loads(cli("eval", m_clean, src, "--json"))
    assert ev["rows"] == len(parsed) - 1
    assert math.isfinite(ev[metric]) and (ev[metric] <= bound if metric == "rmse" else ev[metric] >= bound), ev

    # the full model meets other markers, in a column never missing if there is one (R's
    # Wind); pandas' file lacks a cell in every column: its first input then
    never = next((i for i, h in enumerate(parsed[0]) if h != label and i > 0 and missing[h] == 0),
                 1)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(parsed[0])
    for k, r in enumerate(parsed[1:]):
        r = list(r)
        r[never] = OTHER_MARKERS[k % len(OTHER_MARKERS)]
        w.writerow(r)
    other = tmp_path / "other.csv"
    other.write_text(out.getvalue())
    ev = json.loads(cli("eval", m_full, str(other), "--json"))
    assert ev["rows"] == len(parsed) - 1 and math.isfinite(ev[metric]), ev
    pred = list(csv.DictReader(io.StringIO(cli("predict", m_full, str(other)))))
    assert len(pred) == len(parsed) - 1
    assert all(p["prediction"] != "" for p in pred)
    if metric == "rmse":
        assert all(math.isfinite(float(p["prediction"])) for p in pred)


def test_r_airquality_with_na(tmp_path):
    check_file(tmp_path, *FILES[0])


def test_pandas_breast_cancer_with_empty_cells(tmp_path):
    check_file(tmp_path, *FILES[1])
