"""pMF-H iRDM post-training on a tiny random MiT: the torchrun entry point end to end (reference from the real
EfficientNet-Lite0 of the mini battery), and two gloo ranks give the single process's weights."""

import json
import os
import subprocess
import sys

import pytest
import torch

from rdm_core.generators.pmf import MiT, load_pmf
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.reference.banks import reference_dir
from rdm_core.reference.build import build_reference, save_reference
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.representation.features import extract_features
from rdm_core.train.pmf import LabelRollout, OneStepPMF

from test_pmf import TINY, tiny_net

ENCODER = "effnet_lite0"
REF = {"sigma_n": 64, "landmarks": 16, "kmeans_iters": 3, "fit_n": 64, "k_rr_n": 64, "floor_draws": 2,
       "floor_n": 8, "sw_n": 32, "rff_features": 32, "rff_n": 32}


@pytest.fixture(scope="module")
def run_files(tmp_path_factory):
    """A base checkpoint and the frozen reference of one encoder, built from random 'real' images."""
    root = tmp_path_factory.mktemp("pmf")
    torch.save(tiny_net(3).state_dict(), root / "base.pth")
    encoder, sha = load_battery_encoder(ENCODER, root)
    g = torch.Generator().manual_seed(0)
    train, val = (extract_features(encoder, torch.rand(n, 3, 32, 32, generator=g), 32) for n in (64, 32))
    save_reference(reference_dir(root, ENCODER), build_reference(train, val, REF), {"encoder": ENCODER,
                                                                                  "weights_sha256": sha})
    return root


def launch(root, name, ranks):
    """Run one arm through torchrun with ``ranks`` gloo processes; returns the RUN.json contents."""
    run = {"base": str(root / "base.pth"), "mit": vars(TINY), "guidance": {"noise_scale": 1.0},
           "precision": "bf16", "trusted": False,
           "encoders": [ENCODER], "scale_dir": str(root), "weights_dir": None, "encoder_precision": "bf16",
           "cfg": {"steps": 3, "lr": 1e-3, "grad_clip": 2.0, "checkpoint_every": 2, "seed": 0, "rollout": 8,
                   "chunk": 2, "pid": True, "n_classes": 10, "grad_scale": "per_chunk", "seconds": 1e6},
           "workdir": str(root / name / "work"), "weights": str(root / name / "weights.safetensors"),
           "done": str(root / name / "done.json"), "made_by": {"rule": "irdm_arm", "arm": name}}
    write_json(root / f"{name}.json", run)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={ranks}", "-m", "rdm_core.train.pmf", str(root / f"{name}.json")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


@pytest.mark.slow(seconds=40)
def test_two_ranks_equal_one_process(run_files):
    tag = "pid"
    one = launch(run_files, f"one_{tag}", 1)
    two = launch(run_files, f"two_{tag}", 2)
    w1, meta = load_tensors(one["weights"])
    w2, _ = load_tensors(two["weights"])
    base = tiny_net(3).state_dict()
    assert any(not torch.equal(w1[k], base[k]) for k in base)  # it trained
    for k in w1:
        torch.testing.assert_close(w2[k], w1[k], atol=1e-5, rtol=1e-4)
    assert read_json(two["done"])["ranks"] == 2 and read_json(one["done"])["steps"] == 3
    assert '"kind": "pmf"' in meta["architecture"]
    lines = (run_files / f"two_{tag}" / "work").rglob("metrics.jsonl")
    assert sum(len(p.read_text().splitlines()) for p in lines) == 3  # only rank 0 writes
    # the paper's gradient scale (/ N / chunk = 4 either way) and the ranks' shared clock under a budget
    norms = [[json.loads(line)["grad_norm"] for line in next((run_files / f"{n}_{tag}" / "work").rglob(
        "metrics.jsonl")).read_text().splitlines()] for n in ("one", "two")]
    assert norms[1] == pytest.approx(norms[0], rel=1e-4)
    # the saved weights load back as a sampler
    gen = load_pmf(one["weights"], TINY)
    assert isinstance(gen.net, MiT)


def test_rollout_splits_chunks_over_ranks():
    gen = OneStepPMF(tiny_net())
    full = LabelRollout(gen, 8, 2, seed=0, n_classes=10)(5)
    parts = [LabelRollout(gen, 8, 2, seed=0, n_classes=10, rank=r, world=2)(5) for r in range(2)]
    assert [(y.tolist(), s) for y, s in parts[0] + parts[1]] == [(y.tolist(), s) for y, s in full]
    with pytest.raises(ValueError, match="multiple of chunk x ranks"):
        LabelRollout(gen, 6, 2, seed=0, n_classes=10, world=2)
