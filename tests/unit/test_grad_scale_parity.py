"""Gradient scale and clip against the official trainer (parity): one step of the official ``Trainer.step``
(grad_accum 4, micro-batch 3, one rank) on a tiny linear generator and two encoders, recorded in
tests/data/official/grad_scale_official.safetensors (its README says how), and the same step of our loop with
``grad_scale: per_chunk``: equal pre-clip gradient norm and clipped gradients; ``exact`` is N / chunk larger."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import nn

from rdm_core.compare.mmd import NystromBundle, irdm_loss
from rdm_core.io import load_tensors
from rdm_core.train import UniformWeights, battery_loss_fn, train
from rdm_core.train import loop as loop_module

from test_train_loop import RecordingAdamW

FIXTURE = Path(__file__).parents[1] / "data" / "official" / "grad_scale_official.safetensors"


def our_step(t, meta, workdir, grad_clip, grad_scale):
    setup = meta["setup"]
    model = nn.Linear(setup["d_in"], setup["d_out"])
    with torch.no_grad():
        model.weight.copy_(t["in/weight"])
        model.bias.copy_(t["in/bias"])
    chunks = list(t["in/noise"].split(setup["micro_batch"]))
    encoders = {"a": lambda x: x, "b": lambda x: torch.tanh(x @ t["in/w_enc"])}
    bundles = {n: NystromBundle(Z=t[f"in/{n}/Z"], alpha=t[f"in/{n}/alpha"], sigma=meta["sigma"][n],
                                k_rr=meta["k_rr"][n]) for n in encoders}
    controller = UniformWeights(list(encoders))
    cfg = {"steps": 1, "lr": 1e-3, "grad_clip": grad_clip, "checkpoint_every": 1, "grad_scale": grad_scale,
           "rollout": len(t["in/noise"]), "chunk": setup["micro_batch"]}
    train(model, lambda step: chunks, model, encoders, battery_loss_fn(bundles, irdm_loss, controller), controller,
          loop_module.loop_config(cfg), workdir, log=lambda msg: None)
    record = json.loads((workdir / "metrics.jsonl").read_text())
    return RecordingAdamW.grads.pop(), record


@pytest.fixture(scope="module")
def official():
    with safe_open(str(FIXTURE), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    return load_tensors(FIXTURE)[0], meta


@pytest.mark.parametrize("tag", ["unclipped", "clip0.05"])
def test_per_chunk_scale_and_clip_equal_the_official(official, tag, tmp_path, monkeypatch):
    t, meta = official
    monkeypatch.setattr(loop_module, "FusedAdamW", RecordingAdamW)
    grads, record = our_step(t, meta, tmp_path, meta[tag]["grad_clip"], "per_chunk")
    assert record["raw"] == pytest.approx(meta[tag]["raw_scores"], rel=1e-5)
    assert record["grad_norm"] == pytest.approx(t[f"out/{tag}/grad_norm"].item(), rel=1e-5)
    for got, name in zip(grads, ("grad_weight", "grad_bias")):
        torch.testing.assert_close(got, t[f"out/{tag}/{name}"], rtol=1e-5, atol=1e-7)


def test_exact_scale_is_grad_accum_times_world_larger(official, tmp_path, monkeypatch):
    t, meta = official
    monkeypatch.setattr(loop_module, "FusedAdamW", RecordingAdamW)
    grads, record = our_step(t, meta, tmp_path, 1e9, "exact")
    divisor = meta["setup"]["grad_accum"] * meta["setup"]["world"]
    assert record["grad_norm"] == pytest.approx(divisor * t["out/unclipped/grad_norm"].item(), rel=1e-5)
    torch.testing.assert_close(grads[0], divisor * t["out/unclipped/grad_weight"], rtol=1e-5, atol=1e-7)
