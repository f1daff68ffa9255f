"""pMF-H against the official implementation (parity, not consistency): a tiny official pMF-H denoiser's state
dict, inputs and outputs (tests/data/official/README.md says how they were made) pass through our loader and
network, in the official key layout and in the upstream spellings its converter maps."""

import argparse
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rdm_core.generators.pmf import Guidance, MiT, MiTConfig, OneStepPMF, load_pmf, load_pmf_state

FIXTURE = Path(__file__).parents[1] / "data" / "official" / "pmf_tiny_official.safetensors"
TOL = 1e-5  # relative, on the whole tensor


@pytest.fixture(scope="module")
def official():
    from safetensors import safe_open

    with safe_open(str(FIXTURE), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    tensors = load_file(str(FIXTURE))
    cfg = MiTConfig(input_size=meta["img"], patch_size=meta["patch"], hidden=meta["hidden"], depth=meta["depth"],
                    heads=meta["heads"], head_depth=meta["aux"], bottleneck=meta["bottleneck"],
                    num_classes=meta["classes"])
    state = {k.removeprefix("state/"): v for k, v in tensors.items() if k.startswith("state/")}
    inputs = {k.removeprefix("in/"): v for k, v in tensors.items() if k.startswith("in/")}
    return cfg, state, inputs, tensors["out/u"], tensors["out/one_step"]


def relative_error(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


def upstream_spelling(state):
    """The released file's own spellings, which the official converter maps: ``._flax_linear.`` /
    ``._flax_embedding.``, tokens [1, N, D], a ``rope_freqs`` buffer and the v head, under ``{"model": ...}``."""
    out = {}
    for key, value in state.items():
        key = key.replace(".linear.", "._flax_linear.").replace(".embedding.", "._flax_embedding.")
        out[key] = value[None] if key.endswith("_tokens") else value
    out["net.rope_freqs"] = torch.zeros(4)
    out["net.v_heads.0.attn_scale"] = torch.zeros(4)
    return {"model": out, "step": 4000}


def test_official_layout_loads_by_name_without_a_map(official):
    cfg, state, _, _, _ = official
    assert set(MiT(cfg).state_dict()) == {k.removeprefix("net.") for k in state}
    with torch.device("meta"):  # MiT-H: the SwiGLU width rounds up to a multiple of 8 above hidden 1024
        assert MiT(MiTConfig()).shared_blocks[0].mlp.w1.linear.weight.shape == (3416, 1280)


def test_u_head_equals_the_official(official):
    cfg, state, x, want, _ = official
    net = MiT(cfg).eval()
    load_pmf_state(net, state, FIXTURE)
    with torch.no_grad():
        u = net(x["z"], x["t"], x["h"], x["omega"], x["t_min"], x["t_max"], x["y"])
    assert relative_error(u, want) < TOL


@pytest.mark.parametrize("spelling", ["official", "upstream"])
def test_one_step_sample_equals_the_official(tmp_path, official, spelling):
    cfg, state, x, _, want = official
    path = tmp_path / "pmf.pth"
    torch.save(state if spelling == "official" else upstream_spelling(state), path)
    gen = load_pmf(path, cfg, Guidance(omega=7.0, t_min=0.2, t_max=0.6)).eval()
    with torch.no_grad():
        sample = gen(x["z"], x["y"]) * 2 - 1  # ours is in [0, 1]; the fixture before the official (x + 1) / 2
    assert want.abs().max() < 1  # so the clamp to [0, 1] leaves every value comparable
    assert relative_error(sample, want) < TOL


def test_pickled_checkpoint_needs_trust(tmp_path, official):
    cfg, state, x, _, want = official
    path = tmp_path / "train.pth"
    torch.save({"model": state, "args": argparse.Namespace(lr=1.6e-6)}, path)  # weights_only refuses Namespace
    with pytest.raises(ValueError, match=r"train\.pth.*weights_only=True.*argparse\.Namespace.*"
                                         r"imagenet\.generator\.trusted: true"):
        load_pmf(path, cfg)
    gen = load_pmf(path, cfg, trusted=True).eval()
    with torch.no_grad():
        assert relative_error(gen(x["z"], x["y"]) * 2 - 1, want) < TOL


def test_mismatch_names_missing_and_unexpected_keys(official):
    cfg, state, _, _, _ = official
    bad = dict(state)
    bad["net.y_embedder.weight"] = bad.pop("net.y_embedder.embedding_table.embedding.weight")
    with pytest.raises(ValueError, match=r"missing keys: y_embedder\.embedding_table\.embedding\.weight; "
                                         r"unexpected: y_embedder\.weight"):
        load_pmf_state(MiT(cfg), bad, "bad.pth")


def test_precision_is_checked(official):
    with pytest.raises(ValueError, match="precision must be one of"):
        OneStepPMF(MiT(official[0]), precision="fp16")
