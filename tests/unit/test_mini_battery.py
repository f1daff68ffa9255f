"""The mini encoder battery: registry, weights files, differentiable frozen encoders, training sanity."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from rdm_core.data.mnist import load_split, prepare_mnist
from rdm_core.io import CacheError, save_tensors
from rdm_core.representation import mini
from rdm_core.representation.encoder import build_encoder, preprocess
from rdm_core.representation.features import extract_features
from rdm_core.representation.spec import get_spec

PIPELINE_MADE = [n for n in mini.MINI_BATTERY if n != "effnet_lite0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist") / "mnist.safetensors"
    prepare_mnist(path, seed=0)
    x, y = load_split(path, "train")
    xv, yv = load_split(path, "val")
    return x[:2000], y[:2000], xv[:500], yv[:500]


@pytest.fixture(scope="module")
def weights(tmp_path_factory, data):
    """A one-step weights file per pipeline-made encoder."""
    root = tmp_path_factory.mktemp("weights")
    x, y = data[0][:64], data[1][:64]
    out = {}
    for name in PIPELINE_MADE:
        out[name] = root / f"{name}.safetensors"
        mini.save_encoder_weights(out[name], name, mini.train_mini_encoder(name, x, y, seed=0, steps=1),
                                  {"seed": 0, "data_sha256": "test"})
    return out


def test_battery_layout():
    assert len(mini.MINI_BATTERY) == len(set(mini.MINI_BATTERY)) == 14
    assert len(mini.MINI_TRAIN) == 10 and len(mini.MINI_HELDOUT) == 4
    assert [n for n in mini.MINI_BATTERY if n in mini.MINI_TRAIN] == mini.MINI_TRAIN
    assert "effnet_lite0" in mini.MINI_HELDOUT
    specs = [get_spec(n) for n in mini.MINI_BATTERY]
    assert all(s.name.islower() and 32 <= s.dim <= 1280 for s in specs)
    paradigms = {s.paradigm for s in specs}
    assert {"supervised", "autoencoding", "contrastive", "masked", "random"} <= paradigms
    assert len({get_spec(n).paradigm for n in mini.MINI_HELDOUT}) == 4


@pytest.mark.parametrize("name", mini.MINI_BATTERY)
def test_encoder_is_frozen_differentiable_and_shaped(name, weights):
    spec = get_spec(name)
    enc = build_encoder(spec, str(weights[name]) if name in weights else None)
    assert not any(p.requires_grad for p in enc.parameters())
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0), requires_grad=True)
    f = enc(x)
    assert f.shape == (4, spec.dim) and torch.isfinite(f).all()
    f.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    enc.train()
    assert not enc.training and not enc.backbone.training


def test_fused_encoder_matches_the_trained_model(weights, data):
    name = "sup_res"
    model = mini.build_mini_model(name, 0)
    model.load_state_dict(mini.load_encoder_weights(weights[name], name)[0])
    enc = build_encoder(get_spec(name), str(weights[name]))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    x = data[2][:16]
    torch.testing.assert_close(enc(x), model.eval()(2 * x - 1), rtol=1e-4, atol=1e-5)


def test_extract_features_matches_forward(weights, data):
    enc = build_encoder(get_spec("ae"), str(weights["ae"]))
    x = data[2][:70]
    f = extract_features(enc, x, batch=32)
    assert not f.requires_grad
    torch.testing.assert_close(f, enc(x).detach())


def test_training_is_seeded(data):
    x, y = data[0][:256], data[1][:256]
    a, b, c = (mini.train_mini_encoder("sup_mlp", x, y, seed=s, steps=2) for s in (0, 0, 1))
    assert mini.state_sha256(a) == mini.state_sha256(b) != mini.state_sha256(c)
    r0, r1 = (mini.train_mini_encoder("rff", x, y, seed=s) for s in (0, 1))
    assert not torch.equal(r0["weight"], r1["weight"])
    assert torch.equal(r0["weight"], mini.train_mini_encoder("rff", x, y, seed=0)["weight"])


# training steps (batch 128) in the test; the full budgets are in the specs
QUALITY = {
    "sup_cnn": 40, "sup_mlp": 30, "sup_res": 25, "rotnet": 80,
    "ae": 80, "vae": 80, "mae_cnn": 60, "mae_mlp": 120, "pca": 0,
    "simclr": 15, "simclr_wide": 15,
}


@pytest.mark.parametrize("name", list(QUALITY))
def test_trained_encoder_beats_trivial_baseline(name, data):
    x, y, xv, yv = data
    state = mini.train_mini_encoder(name, x, y, seed=0, steps=QUALITY[name], batch=128)
    score = mini.evaluate_mini_encoder(name, state, xv, yv)
    if "accuracy" in score:
        assert score["accuracy"] > score["chance"] + 0.3, score
    elif "pair_accuracy" in score:
        assert score["pair_accuracy"] > 10 * score["chance"], score
    else:
        assert score["mse"] < 0.9 * score["mean_image_mse"], score


def test_weights_made_for_another_request_are_refused(weights, tmp_path):
    with pytest.raises(CacheError, match=r"sup_cnn\.safetensors.*'encoder'"):
        build_encoder(get_spec("sup_mlp"), str(weights["sup_cnn"]))
    with pytest.raises(CacheError, match="'seed'"):
        mini.load_encoder_weights(weights["pca"], "pca", expect={"seed": 1})
    state, meta = mini.load_encoder_weights(weights["pca"], "pca", expect={"seed": 0})
    assert meta["weights_sha256"] == mini.state_sha256(state)
    tampered = tmp_path / "pca.safetensors"
    save_tensors(tampered, {**state, "mean": state["mean"] + 1}, meta)
    with pytest.raises(CacheError, match="pca.safetensors.*sha256"):
        build_encoder(get_spec("pca"), str(tampered))
    with pytest.raises(FileNotFoundError, match="'ae'"):
        build_encoder(get_spec("ae"), None)


def test_effnet_loads_the_real_imagenet_weights():
    path = mini.efficientnet_lite0_path()
    assert os.path.basename(path) == get_spec("effnet_lite0").checkpoint
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert not torch.allclose(state["_bn1.running_var"], torch.ones(1280))   # trained statistics, not init
    from efficientnet_lite_pytorch import EfficientNet

    plain = EfficientNet.from_name("efficientnet-lite0", image_size=64)
    plain.load_state_dict(state, strict=True)
    enc = build_encoder(get_spec("effnet_lite0"))   # BatchNorm folded into the convs
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in enc.modules())
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = plain.eval().extract_features(preprocess(x, enc.spec)).mean((2, 3))
        torch.testing.assert_close(enc(x), want, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="not made by the pipeline"):
        mini.train_mini_encoder("effnet_lite0", torch.rand(2, 1, 28, 28), torch.zeros(2), seed=0)
