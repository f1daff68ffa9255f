"""Determinism and atomic outputs on the smoke scale.

Two runs from clean (one of them the shared smoke build) write byte-identical tables and metrics; a run killed (SIGKILL of Snakemake and its
jobs) at seeded random moments leaves only whole files behind, and `--rerun-incomplete` then finishes
with the same tables and metrics. Targets: the toy stage (Fig. 3, Table 4: tables, metrics, figures,
sample tensors) and the flow baseline (data, checkpointed training, weights).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import SMOKE, copy_workflow, snakemake
from reliability import kill_tree, start_snakemake
from rdm_core.io import load_tensors

pytestmark = pytest.mark.slow(seconds=70)

TARGETS = ["fig3", "table4", "resources/smoke/classcond/weights/flow.safetensors"]
TEXT_OUTPUTS = (".csv", ".json", ".md", ".tex")  # compared byte for byte between runs


def _whole_png(data: bytes) -> bool:
    return data.startswith(b"\x89PNG\r\n\x1a\n") and data.endswith(b"IEND\xaeB`\x82")


def _whole_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-32:]


CHECKS = {
    ".safetensors": lambda p: load_tensors(p) and True,
    ".json": lambda p: json.loads(p.read_text()) is not None,
    ".csv": lambda p: len(pd.read_csv(p).columns) > 0,
    ".md": lambda p: p.read_text().endswith("\n") and "|" in p.read_text(),
    ".tex": lambda p: p.read_text().rstrip().endswith(("\\end{tabular}", "\\end{table}")),
    ".png": lambda p: _whole_png(p.read_bytes()),
    ".pdf": lambda p: _whole_pdf(p.read_bytes()),
}


def outputs(copy: Path) -> list[Path]:
    """Every file the rules declared under results/ and resources/ (logs, benchmarks and the training work
    folders aside; hidden files are temporaries of writes that never finished, never outputs)."""
    found = [p for top in ("results", "resources") for p in (copy / top).rglob("*")
             if p.is_file() and not p.name.startswith(".")]
    return [p for p in found if not {"logs", "benchmarks", "work"} & set(p.relative_to(copy).parts)]


def assert_whole(copy: Path) -> int:
    files = outputs(copy)
    for path in files:
        assert path.suffix in CHECKS, f"no wholeness check for {path}"
        try:
            ok = CHECKS[path.suffix](path)
        except Exception as err:  # noqa: BLE001 - any failure to load is a broken file
            raise AssertionError(f"{path} is not whole: {err}") from err
        assert ok, f"{path} is not whole"
    return len(files)


def text_outputs(copy: Path) -> dict[str, bytes]:
    return {str(p.relative_to(copy)): p.read_bytes() for p in outputs(copy) if p.suffix in TEXT_OUTPUTS}


def test_two_clean_runs_identical(request, tmp_path):
    """A second clean run of the targets writes every file byte for byte as the shared smoke build did (asked for
    only once this run has finished: the test runs beside the build, not after it)."""
    second = copy_workflow(tmp_path)
    proc = snakemake(second, "--cores", "2", SMOKE, *TARGETS)
    assert proc.returncode == 0, proc.stdout
    a, b = text_outputs(request.getfixturevalue("smoke_build")), text_outputs(second)
    assert b.keys() <= a.keys() and any(k.endswith(".csv") for k in b) and any(k.endswith(".json") for k in b)
    differ = [name for name in b if a[name] != b[name]]
    assert not differ, f"run-dependent bytes in {differ}"


def test_killed_runs_leave_whole_files_and_finish(request, tmp_path):
    copy = copy_workflow(tmp_path)
    rng, kills = random.Random(20260727), 0
    for _ in range(3):
        job = start_snakemake(copy, "--cores", "2", "--rerun-incomplete", SMOKE, *TARGETS)
        time.sleep(rng.uniform(3.0, 15.0))
        finished = job.poll() is not None
        out = kill_tree(job) if not finished else job.communicate()[0]
        assert_whole(copy)
        if finished:  # the run ended before this kill: nothing left to interrupt
            assert job.returncode == 0, out
            break
        kills += 1
        assert snakemake(copy, "--unlock", SMOKE, *TARGETS).returncode == 0
    assert kills, "every run ended before its kill: nothing was interrupted"
    proc = snakemake(copy, "--cores", "2", "--rerun-incomplete", SMOKE, *TARGETS)
    assert proc.returncode == 0, proc.stdout
    assert_whole(copy)
    finished, reference = text_outputs(copy), text_outputs(request.getfixturevalue("smoke_build"))
    assert finished and finished.keys() <= reference.keys()
    assert {k: reference[k] for k in finished} == finished
