"""The mini text-to-image stage end to end at the smoke scale: Table 2, Fig. 1 and the files of the T2I contract."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from conftest import ROOT, snakemake

pytestmark = pytest.mark.slow(seconds=20)

MODELS = ["teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal"]
TASKS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]


def test_t2i_stage_smoke(smoke_build):
    res, work = smoke_build / "results" / "smoke", smoke_build / "resources" / "smoke"
    artifacts = yaml.safe_load((ROOT / "config" / "artifacts.yaml").read_text())
    for name in ("table2", "fig1"):
        for path in artifacts[name]["outputs"]:
            assert (res / path).stat().st_size > 0, path
    for model in MODELS:
        m = json.loads((res / "metrics" / "t2i" / f"{model}.json").read_text())
        assert m["model"] == model and m["nfe"] == (4 if model == "teacher_nfe4" else 1)
        assert set(m["geneval"]) == {*TASKS, "overall"}
        assert m["geneval"]["overall"] == pytest.approx(sum(m["geneval"][t] for t in TASKS) / 6)
    curve = json.loads((res / "metrics" / "t2i" / "curve.json").read_text())
    assert [p["step"] for p in curve["points"]] == [0, 2, 4] and curve["points"][0]["compute"] == 0.0
    assert curve["points"][-1]["compute"] > 0
    t2 = pd.read_csv(res / "tables" / "table2_t2i.csv")
    assert list(t2["id"]) == ["real_val", *MODELS] and list(t2["NFE"][1:]) == [4, 1, 1, 1] and t2["NFE"].isna()[0]
    real = json.loads((res / "metrics" / "t2i" / "real_val.json").read_text())
    assert t2["GenEval"][0] == pytest.approx(real["geneval"]["overall"], abs=5e-4) and real["images"] == 6 * 20
    assert (work / "t2i" / "grids" / "student_joint.safetensors").exists()
    assert list((work / "work" / "t2i_student" / "joint").glob("*/ckpt_*.pt")), "checkpoints stay in the work folder"
    again = snakemake(smoke_build, "-n", "--configfile=config/smoke.yaml", "table2", "fig1")
    assert "Nothing to be done" in again.stdout, again.stdout
