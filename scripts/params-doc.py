#!/usr/bin/env python3
"""Writes the training-parameter table of docs/api.md, between its two marker lines, from the
binary's table (`$BIN/neurond params --json`, model/params.c): the table is never edited by
hand. `make docs` runs it with --write; tests/api/test_params.py runs the check.

Usage: BIN=bin scripts/params-doc.py --write | --check    (--check: exit 1 when it differs)"""
import os
import sys

from paramtable import ROOT, table
DOC = os.path.join(ROOT, "docs", "api.md")
BEGIN = "<!-- params: made by scripts/params-doc.py from `neurond params --json`; do not edit -->"
END = "<!-- params: end -->"


def cell(text):
    """Text for a Markdown table cell: pipes escaped, a tab shown as \\t."""
    return text.replace("\t", "\\t").replace("|", "\\|")


def code(text):
    return "`" + cell(text) + "`"


def render(params):
    rows = ["| parameter | CLI option | default | accepts | meaning |", "|---|---|---|---|---|"]
    for p in params:
        default = code(p["default"]) if p["default"] is not None else cell(p["default_text"])
        rows.append(f"| {code(p['name'])} | {code(p['option'])} | {default} | "
                    f"{cell(p['accepts'])} | {cell(p['help'])} |")
    return "\n".join(rows) + "\n"


def rewrite(text, params):
    """text with the part between the markers replaced; ValueError when a marker is missing."""
    start = text.index(BEGIN) + len(BEGIN) + 1
    end = text.index(END, start)
    return text[:start] + render(params) + text[end:]


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("--write", "--check"):
        sys.exit(__doc__)
    with open(DOC) as f:
        text = f.read()
    new = rewrite(text, table())
    if sys.argv[1] == "--check":
        if new != text:
            sys.exit("docs/api.md's parameter table differs from `neurond params`: run make docs")
        return
    if new != text:
        with open(DOC, "w") as f:
            f.write(new)


if __name__ == "__main__":
    main()
