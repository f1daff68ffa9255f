"""GradCache gives the unchunked full-rollout gradient of a loss that couples the whole rollout."""

import math

import pytest
import torch
from torch import nn

from rdm_core.representation.encoder import Encoder
from rdm_core.representation.spec import EncoderSpec
from rdm_core.train import PIDLagrangian, battery_loss_fn, full_batch_step, gradcache_step

N, Z_DIM, CLASSES = 32, 6, 3


class TinyGenerator(nn.Module):
    """Class-conditional one-step stand-in: (noise, label) -> grey 8x8 image in [0, 1]."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(CLASSES, Z_DIM)
        self.fc = nn.Linear(Z_DIM, 4 * 8 * 8)
        self.conv = nn.Conv2d(4, 1, 3, padding=1)

    def forward(self, z, y):
        h = torch.tanh(self.fc(z + self.embed(y))).view(-1, 4, 8, 8)
        return torch.sigmoid(self.conv(h))


def tiny_encoders():
    """Two frozen random encoders behind the real preprocessing (channel repeat, bicubic resize, mean/std)."""
    conv = EncoderSpec("conv", "random", "none", input_size=12, dim=5, pool="AVG", split="train",
                       mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.25), in_channels=3)
    flat = EncoderSpec("flat", "random", "none", input_size=8, dim=4, pool="FLAT", split="train", in_channels=1)
    return {"conv": Encoder(conv, nn.Sequential(nn.Conv2d(3, 5, 3), nn.GELU(), nn.AdaptiveAvgPool2d(1),
                                                nn.Flatten())),
            "flat": Encoder(flat, nn.Sequential(nn.Flatten(), nn.Linear(64, 4), nn.Tanh()))}


def exact_mmd(g, ref):
    """Biased exact MMD^2 with a unit-bandwidth Gaussian kernel (stand-in for the iRDM loss)."""
    k = lambda a, b: torch.exp(-0.5 * torch.cdist(a, b) ** 2)  # noqa: E731
    return k(g, g).mean() - 2 * k(g, ref).mean() + k(ref, ref).mean()


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model, encoders = TinyGenerator(), tiny_encoders()
    gen = torch.Generator().manual_seed(1)
    z, y = torch.randn(N, Z_DIM, generator=gen), torch.randint(0, CLASSES, (N,), generator=gen)
    refs = {"conv": torch.randn(40, 5, generator=gen), "flat": torch.randn(40, 4, generator=gen) * 0.3}
    return model, encoders, z, y, refs


def chunked(z, y, sizes):
    return list(zip(z.split(sizes), y.split(sizes)))


def param_grads(model, step, inputs, encoders, loss):
    model.zero_grad(set_to_none=True)
    value, raw = step(lambda c: model(*c), inputs, encoders, loss)
    return value, raw, [p.grad.clone() for p in model.parameters()]


def assert_same_grads(got, want, rtol=1e-5):
    for g, w in zip(got, want):
        assert (g - w).norm() <= rtol * w.norm(), f"relative error {((g - w).norm() / w.norm()).item():.2e}"


@pytest.mark.parametrize("sizes", [[16, 16], [8] * 4, [4] * 8, [1] * N, [5, 11, 16]])
def test_gradcache_equals_full_batch_gradient(setup, sizes):
    model, encoders, z, y, refs = setup
    ctl = PIDLagrangian(list(refs), {"conv": 0.0, "flat": 0.0})
    ctl.weights = {"conv": 3.0, "flat": 0.5}
    loss = battery_loss_fn(refs, exact_mmd, ctl)
    v_full, raw_full, want = param_grads(model, full_batch_step, chunked(z, y, [N]), encoders, loss)
    v_gc, raw_gc, got = param_grads(model, gradcache_step, chunked(z, y, sizes), encoders, loss)
    assert v_gc.item() == pytest.approx(v_full.item(), rel=1e-6)
    assert raw_gc == pytest.approx(raw_full, rel=1e-6)
    assert_same_grads(got, want)


def test_gradcache_with_the_irdm_loss(setup):
    mmd = pytest.importorskip("rdm_core.compare.mmd")
    model, encoders, z, y, refs = setup
    bundles = {n: mmd.build_nystrom_bundle(r, sigma=1.0, n_landmarks=8) for n, r in refs.items()}
    loss = battery_loss_fn(bundles, mmd.irdm_loss, PIDLagrangian(list(refs), {"conv": 0.0, "flat": 0.0}))
    _, _, want = param_grads(model, full_batch_step, chunked(z, y, [N]), encoders, loss)
    _, _, got = param_grads(model, gradcache_step, chunked(z, y, [8] * 4), encoders, loss)
    assert_same_grads(got, want)


def test_zero_weight_encoder_costs_no_second_pass(setup):
    model, encoders, z, y, refs = setup
    calls = {"conv": 0, "flat": 0}

    def counting(name):
        def encode(x):
            calls[name] += 1
            return encoders[name](x)
        return encode

    ctl = PIDLagrangian(list(refs), {"conv": 0.0, "flat": 0.0})
    ctl.weights = {"conv": 0.0, "flat": 1.0}
    loss = battery_loss_fn(refs, exact_mmd, ctl)
    _, raw, got = param_grads(model, gradcache_step, chunked(z, y, [8] * 4),
                              {n: counting(n) for n in encoders}, loss)
    assert calls == {"conv": 4, "flat": 8}  # pass 1 encodes everything, pass 2 only weighted encoders
    assert set(raw) == {"conv", "flat"}
    _, _, want = param_grads(model, full_batch_step, chunked(z, y, [N]),
                             {"flat": encoders["flat"]}, battery_loss_fn({"flat": refs["flat"]}, exact_mmd, ctl))
    assert_same_grads(got, want)


@pytest.mark.parametrize("step", [gradcache_step, full_batch_step])
def test_non_finite_or_constant_loss_leaves_grads_untouched(setup, step):
    model, encoders, z, y, refs = setup
    nan_loss = lambda f: (sum(v.sum() for v in f.values()) * math.nan, {})  # noqa: E731
    value, _ = step(lambda c: model(*c), chunked(z, y, [16, 16]), encoders, nan_loss)
    assert math.isnan(value.item()) and all(p.grad is None for p in model.parameters())
    ctl = PIDLagrangian(list(refs), {"conv": 0.0, "flat": 0.0})
    ctl.weights = {"conv": 0.0, "flat": 0.0}  # every encoder satisfied
    loss = battery_loss_fn(refs, exact_mmd, ctl)
    value, raw = step(lambda c: model(*c), chunked(z, y, [16, 16]), encoders, loss)
    assert value.item() == 0.0 and all(math.isfinite(v) for v in raw.values())
    assert all(p.grad is None for p in model.parameters())
