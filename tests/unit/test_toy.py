"""The spiral diagnostic: substrate geometry, embedding, metrics, the training loop and every arm."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from rdm_core.toy import (anchors, embed, embedding, med_dist, real_floor, real_points, recall, run_cell,
                          spiral_curve, to_plane)
from rdm_core.toy import arms
from rdm_core.toy.generator import make_generator
from rdm_core.toy.run import cosine_lr, train

CONFIG = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
ARM_NAMES = ["frechet", "sw", "drifting", "mmd_rff", "mmd_exact", "mmd_nystrom"]
KEYS = {"distance", "batch", "iterations", "seed", "recall", "med_dist", "finite", "seconds", "final_loss"}


@pytest.fixture(scope="module")
def cfg() -> dict:
    return yaml.safe_load(CONFIG.read_text())["toy"]


def tiny(cfg: dict, iterations: int = 30, n_samples: int = 500) -> dict:
    c = copy.deepcopy(cfg)
    c["train"]["iterations"] = iterations
    c["eval"]["n_samples"] = n_samples
    return c


def _curve_distance(points: torch.Tensor, cfg: dict) -> torch.Tensor:
    return torch.cdist(points, spiral_curve(cfg)).amin(1)


def test_spiral_geometry(cfg):
    dense = spiral_curve(cfg)
    assert dense.shape == (cfg["data"]["dense"], 2)
    assert anchors(cfg).shape == (cfg["data"]["anchors"], 2)
    radius = dense.norm(dim=1)
    assert radius[0].item() == pytest.approx(0.5) and radius[-1].item() == pytest.approx(2.5)
    assert bool((radius[1:] > radius[:-1]).all())
    angle = np.unwrap(np.arctan2(dense[:, 1].numpy(), dense[:, 0].numpy()))
    assert angle[-1] - angle[0] == pytest.approx(2 * 2 * math.pi, rel=1e-6)

    real = real_points(cfg)
    assert real.shape == (2000, 2)
    r = real.norm(dim=1)
    assert 0.5 - 0.25 < r.min() and r.max() < 2.5 + 0.25
    # noise s.d. 0.05: the normal component of the noise has RMS 0.05
    rms = _curve_distance(real, cfg).pow(2).mean().sqrt().item()
    assert rms == pytest.approx(0.05, rel=0.1)
    assert torch.equal(real, real_points(cfg))


def test_embedding_orthonormal_and_round_trip(cfg):
    P = embedding(64, torch.Generator().manual_seed(42))
    assert P.shape == (64, 2)
    torch.testing.assert_close(P.T @ P, torch.eye(2, dtype=torch.float64), atol=1e-12, rtol=0)
    x = real_points(cfg)
    emb = embed(x, P)
    assert emb.shape == (2000, 64) and emb.dtype == torch.float32
    torch.testing.assert_close(to_plane(emb, P), x, atol=1e-5, rtol=0)
    assert torch.equal(P, embedding(64, torch.Generator().manual_seed(42)))


def test_metrics_on_hand_made_samples(cfg):
    radius = cfg["eval"]["recall_radius"]
    a, dense = anchors(cfg), spiral_curve(cfg)
    assert recall(a, a, radius) == 1.0
    assert med_dist(dense, dense) == 0.0
    # half the anchors only: recall 1/2 (anchors are ~0.3 apart, further than the radius)
    assert recall(a[:30], a, radius) == pytest.approx(0.5)

    def shifted(delta: float) -> torch.Tensor:  # the dense curve moved radially outward by delta
        return dense * (1.0 + delta / dense.norm(dim=1, keepdim=True))
    d = med_dist(shifted(0.1), dense)
    assert 0.09 < d <= 0.1 + 1e-9
    assert recall(shifted(0.1), a, radius) == 1.0
    assert recall(shifted(0.2), a, radius) == 0.0

    broken = dense.clone()
    broken[0] = float("nan")
    assert math.isnan(med_dist(broken, dense))
    assert recall(broken, a, radius) == 1.0
    assert recall(torch.full((10, 2), float("nan")), a, radius) == 0.0


def test_real_floor_matches_paper(cfg):
    floor = real_floor(cfg)
    assert floor["recall"] == 1.0
    assert floor["med_dist"] == pytest.approx(0.033, abs=0.003)
    assert floor["n"] == cfg["eval"]["n_samples"]


def test_cosine_schedule():
    assert cosine_lr(0, 100, 1e-3, 1e-4) == pytest.approx(1e-3)
    assert cosine_lr(50, 100, 1e-3, 1e-4) == pytest.approx(5.5e-4)
    assert cosine_lr(100, 100, 1e-3, 1e-4) == pytest.approx(1e-4)


def test_generator_architecture(cfg):
    gen = make_generator(cfg, 42)
    linears = [m for m in gen if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(2, 256)] + [(256, 256)] * 3 + [(256, 64)]
    assert len(gen) == 9  # four Linear + ReLU blocks, then the output layer
    state = torch.get_rng_state()
    again = make_generator(cfg, 42)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(gen.parameters(), again.parameters()))


def test_flat_training_matches_reference_optimiser(cfg):
    """The flat-buffer loop equals per-layer Adam + clip_grad_norm_ + cosine annealing."""
    c = tiny(cfg, iterations=15)
    c["train"]["clip"] = 0.05  # make clipping active

    def loss_fn(g, step_gen):
        return (g - 1.0).pow(2).mean()

    gen = make_generator(c, 0)
    train(gen, loss_fn, 16, c, torch.Generator().manual_seed(3), progress=False)

    ref = make_generator(c, 0)
    opt = torch.optim.Adam(ref.parameters(), lr=c["train"]["lr"])
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=15, eta_min=c["train"]["lr_min"])
    rng = torch.Generator().manual_seed(3)
    for _ in range(15):
        loss = loss_fn(ref(torch.randn(16, 2, generator=rng)), rng)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), c["train"]["clip"])
        opt.step()
        sched.step()
    for p, q in zip(gen.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("distance", ARM_NAMES)
def test_every_arm_smoke(cfg, distance):
    metrics, samples = run_cell(tiny(cfg), distance, 8, progress=False)
    assert set(metrics) == KEYS
    assert samples.shape == (500, 2)
    assert metrics["finite"] is True
    assert metrics["distance"] == distance and metrics["batch"] == 8
    assert metrics["iterations"] == 30 and metrics["seed"] == cfg["train"]["seed"]
    assert 0.0 <= metrics["recall"] <= 1.0
    assert math.isfinite(metrics["med_dist"]) and math.isfinite(metrics["final_loss"])


def test_run_cell_is_deterministic(cfg):
    c = tiny(cfg, iterations=20, n_samples=200)
    m1, s1 = run_cell(c, "mmd_nystrom", 16, progress=False)
    m2, s2 = run_cell(c, "mmd_nystrom", 16, progress=False)
    m1.pop("seconds"), m2.pop("seconds")
    assert m1 == m2
    assert torch.equal(s1, s2)


def test_non_finite_arm_is_reported_not_raised(cfg, monkeypatch):
    def nan_arm(real, batch, cfg, rng):
        return lambda g, step_gen: g.sum() * float("nan")
    monkeypatch.setitem(arms.ARMS, "nan", nan_arm)
    c = tiny(cfg, iterations=600, n_samples=100)
    metrics, samples = run_cell(c, "nan", 8, progress=False)
    assert metrics["finite"] is False
    assert metrics["iterations"] < 600  # stopped at the first finite check
    assert metrics["recall"] == 0.0 and math.isnan(metrics["med_dist"])
    assert samples.shape == (100, 2)


def test_unknown_distance(cfg):
    with pytest.raises(ValueError, match="unknown toy distance"):
        run_cell(tiny(cfg), "wasserstein", 8, progress=False)


def test_stacked_rff_equals_sum_over_scales(cfg):
    from rdm_core.compare.mmd import RFFMap, mmd2_rff
    rng = torch.Generator().manual_seed(0)
    real = embed(real_points(cfg), embedding(64, torch.Generator().manual_seed(1)))
    loss = arms.mmd_rff(real, 8, cfg, rng)
    g = torch.randn(32, 64) * 0.5
    rng = torch.Generator().manual_seed(0)
    expected = 0.0
    for s in arms.kernel_sigmas(real, cfg):
        seed = int(torch.randint(2**31 - 1, (), generator=rng))
        m = RFFMap.from_seed(64, s, cfg["distances"]["n_features"], seed)
        expected = expected + mmd2_rff(g, m.mean_embedding(real), m)
    torch.testing.assert_close(loss(g, rng), expected, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def embedded(cfg):
    return embed(real_points(cfg), embedding(64, torch.Generator().manual_seed(1)))


def _value_and_grad(loss, g, seed):
    g = g.clone().requires_grad_()
    value = loss(g, torch.Generator().manual_seed(seed))
    value.backward()
    return value.detach(), g.grad


def test_exact_arm_is_the_multiscale_exact_mmd(cfg, embedded):
    from rdm_core.compare.mmd import cross_mean, repulsion
    real, sigmas = embedded.double(), arms.kernel_sigmas(embedded, cfg)

    def reference(g, step_gen):
        r = arms._subset(real, 16, step_gen)
        return sum(repulsion(g, s) - 2.0 * cross_mean(g, r, s) for s in sigmas)
    g = (embedded[:16].double() + 0.3 * torch.randn(16, 64, dtype=torch.float64,
                                                    generator=torch.Generator().manual_seed(2)))
    value, grad = _value_and_grad(arms.mmd_exact(real, 16, cfg, torch.Generator()), g, 5)
    ref_value, ref_grad = _value_and_grad(reference, g, 5)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


def test_nystrom_arm_is_the_sum_of_per_scale_irdm_losses(cfg, embedded):
    from dataclasses import replace

    from rdm_core.compare.mmd import build_nystrom_bundle, irdm_loss
    c = copy.deepcopy(cfg)
    c["distances"]["n_features"] = 64
    real = embedded.double()
    loss = arms.mmd_nystrom(real, 16, c, torch.Generator().manual_seed(3))
    landmarks = arms._subset(real, 64, torch.Generator().manual_seed(3))
    bundles = [replace(build_nystrom_bundle(real, s, 64, landmarks=landmarks), Z=landmarks)
               for s in arms.kernel_sigmas(real, c)]
    g = real[:16] + 0.3 * torch.randn(16, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    value, grad = _value_and_grad(loss, g, 0)
    ref_value, ref_grad = _value_and_grad(lambda a, _: sum(irdm_loss(a, b) for b in bundles), g, 0)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)
