"""PARITY.md is kept honest: every test a row names exists, every row names one, and every golden file made from
the official code (tests/data/official/) is held by a row's test."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def rows() -> list[list[str]]:
    lines = [ln for ln in (ROOT / "PARITY.md").read_text().splitlines() if ln.startswith("| ")]
    header, body = lines[0], lines[1:]
    assert [c.strip() for c in header.strip("|").split("|")][3] == "test"
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in body]


def test_every_row_names_tests_that_exist():
    table = rows()
    assert len(table) >= 10
    for cells in table:
        nodes = NODE.findall(cells[3])
        assert nodes, f"the row {cells[0]!r} names no test"
        for path, name in nodes:
            tree = ast.parse((ROOT / path).read_text())
            defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
            assert name in defined, f"{path}::{name} (row {cells[0]!r}) does not exist"


def test_every_golden_file_is_held_by_a_row():
    named = {path for cells in rows() for path, _ in NODE.findall(cells[3])}
    for golden in sorted((ROOT / "tests" / "data" / "official").glob("*")):
        if golden.name == "README.md":
            continue
        readers = {str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py") if golden.name in p.read_text()}
        assert readers & named, f"no PARITY.md row names a test that reads {golden.name}"
