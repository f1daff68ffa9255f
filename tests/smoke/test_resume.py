"""Resume without SLURM: `kill -9` of Snakemake and its jobs during a training rule, then
`snakemake --rerun-incomplete`: the rerun logs the step it resumed from and ends with the weights of an
uninterrupted run (smoke scale, training raised to a few hundred steps so that the kill lands half way)."""

from __future__ import annotations

import re
import shutil

import pytest

from conftest import snakemake
from reliability import assert_same_weights, kill_tree, smoke_config, start_snakemake, wait_for_checkpoint

pytestmark = pytest.mark.slow(seconds=45)

W = "resources/smoke/classcond/weights"
# rule: (declared weights, work folder, log, config laid over smoke.yaml, steps)
CASES = {
    "flow": (f"{W}/flow.safetensors", "resources/smoke/work/flow", "resources/smoke/logs/classcond/flow.log",
             {"classcond": {"flow": {"steps": 600, "checkpoint_every": 50}}}, 600),
    "irdm_arm": (f"{W}/irdm.safetensors", "resources/smoke/work/irdm_arm/irdm",
                 "resources/smoke/logs/classcond/irdm_arm_irdm.log",
                 {"classcond": {"arms": {"irdm": {"steps": 400}}, "checkpoint_every": 40}}, 400),
    "t2i_student": ("resources/smoke/t2i/weights/student_joint.safetensors", "resources/smoke/work/t2i_student/joint",
                    "resources/smoke/logs/t2i/student_joint.log",
                    {"t2i": {"student": {"steps": 200, "checkpoint_every": 20, "snapshot_every": 100}}}, 200),
}


@pytest.mark.parametrize("rule", CASES)
def test_kill_and_resume(smoke_copy, rule):
    """On a copy of the shared smoke build: only the lengthened rule runs (its upstream is built)."""
    workflow_copy = smoke_copy
    weights, work, log, overrides, steps = CASES[rule]
    config = smoke_config(workflow_copy, "long.yaml", overrides)
    # smoke.yaml's key order kept: the upstream's params are unchanged, so only the forced rule runs (forced:
    # Snakemake sees no reason to rerun t2i_student when its weights alone are asked for)
    proc = snakemake(workflow_copy, "--cores", "2", config, "--forcerun", rule, "--", weights)
    assert proc.returncode == 0, proc.stdout
    assert set(re.findall(r"^(?:local)?rule (\w+):$", proc.stdout, re.M)) == {rule}, proc.stdout
    uninterrupted = workflow_copy / "uninterrupted.safetensors"
    shutil.copy(workflow_copy / weights, uninterrupted)
    # the same rule again from nothing (upstream outputs stay): killed half way with everything it started
    (workflow_copy / weights).unlink()
    shutil.rmtree(workflow_copy / work)
    job = start_snakemake(workflow_copy, "--cores", "2", config, weights)
    killed_at = wait_for_checkpoint(job, workflow_copy / work, steps // 2)
    kill_tree(job)
    assert killed_at < steps and not (workflow_copy / weights).exists()
    assert snakemake(workflow_copy, "--unlock", config, weights).returncode == 0
    proc = snakemake(workflow_copy, "--cores", "2", "--rerun-incomplete", config, weights)
    assert proc.returncode == 0, proc.stdout
    resumed = [int(s) for s in re.findall(r"resuming from step (\d+)", (workflow_copy / log).read_text())]
    assert resumed and killed_at <= resumed[0] < steps, (killed_at, resumed)
    assert_same_weights(workflow_copy / weights, uninterrupted)
