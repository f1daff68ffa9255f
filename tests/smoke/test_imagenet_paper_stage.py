"""The paper class-conditional rules end to end on a tiny random MiT, a fake ImageNet tree, the real EfficientNet-Lite0
as the whole battery and a tiny random PickScore: every arm through torchrun, 16k-style .npz renders, evaluation,
the PickScore preference and Tables 1/3/6/7 and Figs. 5/6, with sane values."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from conftest import snakemake
from tiny_t2i import save_pickscore

pytestmark = pytest.mark.slow(seconds=90)

ENC = "effnet_lite0"
MIT = {"input_size": 32, "patch_size": 8, "hidden": 32, "depth": 2, "heads": 2, "head_depth": 1, "bottleneck": 8}


def fake_imagenet(root, per_class=12, classes=4):
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"n0{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (36, 40, 3), dtype=np.uint8) // (c + 1)
                Image.fromarray(pixels).save(folder / f"{i}.png")


def test_imagenet_paper_stage_on_tiny_models(workflow_copy, tmp_path, monkeypatch):
    from rdm_core.generators.pmf import MiT, MiTConfig

    fake_imagenet(tmp_path / "imagenet")
    weights = tmp_path / "weights"
    save_pickscore(weights / "pickscore", weights / "pickscore_processor")
    torch.manual_seed(0)
    base = workflow_copy / "resources" / "paper" / "generators" / "base.pth"
    base.parent.mkdir(parents=True)
    torch.save(MiT(MiTConfig(num_classes=4, **MIT)).state_dict(), base)  # stands in for the fetched checkpoint

    cfg = yaml.safe_load((workflow_copy / "config" / "paper.yaml").read_text())
    cfg["data"]["imagenet"] = {"train": str(tmp_path / "imagenet" / "train"), "val": str(tmp_path / "imagenet" / "val"),
                               "size": 32, "workers": 0}
    cfg["battery"].update(names=[ENC], threads=1, batch=16)
    job = {"device": "cpu", "gpu": 0, "cpus_per_gpu": 1, "mem_mb": 1000, "runtime": 10}
    cfg["compute"] = {k: job for k in cfg["compute"]}
    cfg["reference"].update(sigma_n=48, landmarks=8, kmeans_iters=2, fit_n=48, k_rr_n=48, floor_draws=2, floor_n=8,
                            sw_n=16, rff_features=32, rff_n=16)
    cfg["t2i"]["paper"]["weights_dir"] = str(weights)
    arm = {"encoders": [ENC], "rollout": 8, "chunk": 2, "lr": 1e-3, "grad_clip": 2.0}
    gpu_job = {"device": "cpu", "gpu": 1, "cpus_per_gpu": 1, "mem_mb": 1000, "runtime": 10}
    cfg["imagenet"].update(
        n_classes=4, checkpoint_every=1,
        generator={**cfg["imagenet"]["generator"], "mit": MIT},
        arms={"irdm": {**arm, "pid": True, "steps": 2}, "gated": {**arm, "pid": True, "steps": 1},
              "uniform": {**arm, "pid": False, "steps": 1}, "gaming": {**arm, "pid": False, "steps": 3}},
        batch_sweep={"encoder": ENC, "rollouts": [4, 8], "seconds": 1e-9, "samples_seen": 16, "lr_ref": 1e-3, "n_ref": 8,
                     "chunk": 2, "grad_clip": 2.0},  # a clock budget that one step spends: each arm stops at step 1
        eval={"n_samples": 16, "seed": 0, "batch": 8},
        preference={"player": "irdm", "opponents": ["warmstart"], "n_samples": 6, "seed": 1, "batch": 4},
        compute={k: gpu_job for k in cfg["imagenet"]["compute"]})
    (workflow_copy / "config" / "tiny_paper.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    targets = ["table1", "table3", "table6", "table7", "fig5", "fig6"]
    proc = snakemake(workflow_copy, "--cores", "2", "--configfile=config/tiny_paper.yaml", *targets, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:]

    res, work = workflow_copy / "results" / "paper", workflow_copy / "resources" / "paper"
    for gen in ("real", "warmstart", "irdm", "gated", "uniform", "gaming", "batch_n4", "batch_n8"):
        scores = json.loads((res / "metrics" / "eval" / f"{gen}.json").read_text())
        assert scores["K"] == 1 and np.isfinite(scores["sw_rK"]) and scores["sw_rK"] > 0, gen
        assert "class_agreement" not in scores  # no held-out classifier at paper scale
        if gen != "real":
            with np.load(work / "imagenet" / "samples" / f"{gen}.npz") as batch:
                assert batch["arr_0"].shape == (16, 32, 32, 3) and batch["arr_0"].dtype == np.uint8
                assert batch["arr_1"].tolist() == torch.randint(4, (16,), generator=torch.Generator().manual_seed(0)
                                                                ).tolist()
    done = json.loads((work / "imagenet" / "weights" / "irdm.done.json").read_text())
    assert done["steps"] == 2 and done["ranks"] == 1 and done["config"]["n_classes"] == 4
    assert "resuming" not in (work / "logs" / "imagenet" / "irdm_arm_irdm.log").read_text()
    pref = json.loads((res / "metrics" / "eval" / "preference.json").read_text())
    assert pref["scorer"] == "PickScore_v1" and pref["records"][0]["pairs"] == 6
    table1 = (res / "tables" / "table1_sw.csv").read_text()
    for gen in ("real", "irdm", "warmstart", "gaming"):
        assert f",{gen}," in table1
    assert (res / "figures" / "fig5_gaming.png").stat().st_size > 0 and (res / "figures" / "fig6_preference.png").is_file()
    assert os.path.getsize(res / "tables" / "table6_batch.csv") > 0 and sys.executable
    table6 = pd.read_csv(res / "tables" / "table6_batch.csv")
    assert table6["steps"].tolist() == [1, 1] and set(table6["budget"]) == {"1e-09 s wall-clock (at most 16 samples)"}
    assert "wall-clock budget of 1e-09 s is spent" in (work / "logs" / "imagenet" / "irdm_arm_batch_n8.log").read_text()
