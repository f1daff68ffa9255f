"""The metric on the real mini battery: a fresh real draw scores about 1.00, degraded images well above."""

from __future__ import annotations

import json

import pytest

from conftest import snakemake


@pytest.mark.slow(seconds=115)
def test_mini_probes(workflow_copy):
    proc = snakemake(workflow_copy, "--cores", "2", "probes", timeout=900)
    assert proc.returncode == 0, proc.stdout
    probes = json.loads((workflow_copy / "results" / "mini" / "metrics" / "eval" / "probes.json").read_text())
    assert probes["fresh real"]["K"] == 14
    assert abs(probes["fresh real"]["sw_rK"] - 1.0) <= 0.15, probes["fresh real"]["sw_rK"]
    assert probes["blurred real"]["sw_rK"] > 1.5 and probes["uniform noise"]["sw_rK"] > 1.5
