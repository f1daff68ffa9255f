"""Mini generators: the one-step generator is per-sample deterministic, the flow sampler is Euler, and flow
training learns and resumes exactly."""

import json

import torch
from torch import nn

from rdm_core.generators.flow import VelocityNet, sample, sample_noise
from rdm_core.generators.mini import OneStepGenerator
from rdm_core.train.flow import train_flow


def test_one_step_generator_shapes_range_and_determinism():
    torch.manual_seed(0)
    g = OneStepGenerator(z_dim=8, n_classes=10, width=8)
    z, y = g.sample_inputs(12, torch.Generator().manual_seed(3))
    z2, y2 = g.sample_inputs(12, torch.Generator().manual_seed(3))
    assert torch.equal(z, z2) and torch.equal(y, y2)
    assert z.shape == (12, 8) and y.dtype == torch.int64 and 0 <= y.min() and y.max() < 10
    x = g(z, y)
    assert x.shape == (12, 1, 28, 28) and 0 < x.min() and x.max() < 1
    # per-sample and mode independent: GradCache's second pass regenerates a chunk exactly
    chunks = torch.cat([g(zc, yc) for zc, yc in zip(z.split(4), y.split(4))])
    assert torch.allclose(chunks, x, atol=1e-6)
    g.eval()
    assert torch.equal(g(z, y), x)
    # the class steers the output
    assert not torch.allclose(g(z, (y + 1) % 10), x)


def test_labels_are_uniform():
    g = OneStepGenerator(z_dim=2, n_classes=10, width=8)
    _, y = g.sample_inputs(20_000, torch.Generator().manual_seed(0))
    freq = torch.bincount(y, minlength=10).float() / len(y)
    assert (freq - 0.1).abs().max() < 0.01


def test_flow_sampler_is_euler():
    torch.manual_seed(0)
    net = VelocityNet.for_classes(10, width=8)
    nn.init.normal_(net.out[0].weight, std=0.1)  # the output layer starts at zero; make v non-trivial
    z, c = sample_noise(5, torch.Generator().manual_seed(1)), torch.arange(5)
    with torch.no_grad():
        one = sample(net, z, c, 1)
        assert torch.allclose(one, ((z - net(z, torch.ones(5), c) + 1) / 2).clamp(0, 1))
        u = z - 0.5 * net(z, torch.ones(5), c)
        u = u - 0.5 * net(u, torch.full((5,), 0.5), c)
        assert torch.allclose(sample(net, z, c, 2), ((u + 1) / 2).clamp(0, 1))
        four = sample(net, z, c, 4)
    assert four.shape == (5, 1, 28, 28) and 0 <= four.min() and four.max() <= 1


def test_flow_conditioning_is_pluggable():
    net = VelocityNet(nn.Linear(6, 16), 16, width=8)  # e.g. a caption embedding of width 6
    out = net(torch.randn(3, 1, 28, 28), torch.rand(3), torch.randn(3, 6))
    assert out.shape == (3, 1, 28, 28)


def digits(n=64, seed=0):
    """Tiny class-dependent data: a bright bar whose row is the class."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = 0.05 * torch.rand(n, 1, 28, 28, generator=gen)
    for i, c in enumerate(y.tolist()):
        x[i, 0, 4 + 6 * c:7 + 6 * c, 4:24] = 1.0
    return x, y


def flow_loss(net, x, y):
    gen = torch.Generator().manual_seed(9)
    e, t = sample_noise(len(x), gen), torch.rand(len(x), generator=gen)
    u = 2 * x - 1
    with torch.no_grad():
        return (net((1 - t)[:, None, None, None] * u + t[:, None, None, None] * e, t, y) - (e - u)).square().mean()


FLOW_CFG = {"steps": 6, "batch": 16, "lr": 3e-3, "grad_clip": 1.0, "checkpoint_every": 2, "seed": 0,
            "n_classes": 4, "width": 8}


def test_train_flow_learns_and_resumes_exactly(tmp_path):
    x, y = digits()
    full = train_flow(x, y, {**FLOW_CFG, "steps": 30}, tmp_path / "learn", log=lambda m: None)
    untrained = VelocityNet.for_classes(4, width=8)
    assert flow_loss(full, x, y) < 0.7 * flow_loss(untrained, x, y)

    ref = train_flow(x, y, FLOW_CFG, tmp_path / "ref", log=lambda m: None)
    train_flow(x, y, {**FLOW_CFG, "steps": 4}, tmp_path / "killed", log=lambda m: None)  # stopped after step 4
    messages = []
    resumed = train_flow(x, y, FLOW_CFG, tmp_path / "killed", log=messages.append)
    assert messages and "resuming from step 4" in messages[0]
    assert all(torch.equal(p, q) for p, q in zip(resumed.parameters(), ref.parameters()))
    lines = [json.loads(s) for s in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 7))
