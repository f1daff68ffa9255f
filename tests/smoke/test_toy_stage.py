"""The toy stage end to end on the smoke scale: every artifact written, whole, and nothing redone."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import ROOT, snakemake


def test_toy_artifacts_share_cells(dry_workflow):
    """fig3 + fig4 + table4 at the mini scale need exactly 20 distinct cells (Table 4 and Fig. 4 reuse Fig. 3's)."""
    proc = snakemake(dry_workflow, "-n", "fig3", "fig4", "table4")
    assert proc.returncode == 0, proc.stdout
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert counts["toy_cell"] == "20" and counts["toy_floor"] == "1"


@pytest.mark.slow(seconds=20)
def test_toy_stage_smoke(smoke_build):
    res = smoke_build / "results" / "smoke"
    for name in ("figures/fig3_spiral.png", "figures/fig3_spiral.pdf", "figures/fig4_batch.png",
                 "tables/table4_distance.tex", "tables/table4_distance.md", "VERIFY.md"):
        assert (res / name).stat().st_size > 0, name
    grid = pd.read_csv(res / "tables" / "fig3_spiral.csv")
    assert len(grid) == 12 and grid["recall"].between(0, 1).all() and (grid["iterations"] == 40).all()
    cell = json.loads((res / "metrics" / "toy" / "mmd_nystrom_B8.json").read_text())
    assert cell["distance"] == "mmd_nystrom" and cell["batch"] == 8
    table4 = pd.read_csv(res / "tables" / "table4_distance.csv")
    assert list(table4["rank"]) == list(range(1, 7)) and table4["med_dist"].is_monotonic_increasing
    verify = (res / "VERIFY.md").read_text()
    assert "## Claims" in verify and "Nystrom has the lowest medDist" in verify
    # a rerun has nothing to do: every cell is computed once
    again = snakemake(smoke_build, "-n", "--configfile=config/smoke.yaml", "fig3", "fig4", "table4", "verify")
    assert "Nothing to be done" in again.stdout, again.stdout
