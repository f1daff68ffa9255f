"""Drifting field against a slow loop reference of its definition, and the properties it implies."""

import math

import numpy as np
import pytest
import torch

from rdm_core.compare.drifting import drifting_field, drifting_loss


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _loop_field(gen, real, temperatures, floor=0.0):
    """The definition written out: targets = real then generated, self-pairs excluded; the affinity
    product is clamped at ``floor`` before the square root (self-pairs included)."""
    b, n_real = len(gen), len(real)
    targets = list(real) + list(gen)
    is_self = [[n_real + i == j for j in range(len(targets))] for i in range(b)]
    dist = [[float(np.linalg.norm(gen[i] - targets[j])) for j in range(len(targets))] for i in range(b)]
    kept = [dist[i][j] for i in range(b) for j in range(len(targets)) if not is_self[i][j]]
    scale = sum(kept) / len(kept)
    x = [gi / scale for gi in gen]
    y = [t / scale for t in targets]
    total = np.zeros_like(gen)
    for temp in temperatures:
        e = [[0.0 if is_self[i][j] else math.exp(-dist[i][j] / scale / temp) for j in range(len(y))]
             for i in range(b)]
        row = [sum(e[i]) for i in range(b)]
        col = [sum(e[i][j] for i in range(b)) for j in range(len(y))]
        aff = [[math.sqrt(max(e[i][j] / row[i] * e[i][j] / col[j], floor)) for j in range(len(y))] for i in range(b)]
        force = np.zeros_like(gen)
        for i in range(b):
            attract_mass = sum(aff[i][:n_real])
            repel_mass = sum(aff[i][n_real:])
            for j in range(len(y)):
                if j < n_real:
                    force[i] += aff[i][j] * repel_mass * (y[j] - x[i])
                else:
                    force[i] -= aff[i][j] * attract_mass * (y[j] - x[i])
        total += force / math.sqrt(np.mean(force ** 2))
    return total


@pytest.fixture
def sets():
    return _randn(9, 3, seed=1), _randn(12, 3, seed=2) * 0.7 + 1.0


@pytest.mark.parametrize("temperatures", [(0.06, 0.2), (0.2, 0.05, 0.02), (0.5,)])
def test_field_matches_loop_reference(sets, temperatures):
    gen, real = sets
    expected = _loop_field(gen.numpy(), real.numpy(), temperatures)
    np.testing.assert_allclose(drifting_field(gen, real, temperatures).numpy(), expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("floor", [1e-6, 1e-3, 2e-2])
def test_affinity_floor_matches_loop_reference(sets, floor):
    gen, real = sets
    expected = _loop_field(gen.numpy(), real.numpy(), (0.06, 0.2), floor)
    field = drifting_field(gen, real, (0.06, 0.2), affinity_floor=floor)
    np.testing.assert_allclose(field.numpy(), expected, rtol=1e-9, atol=1e-12)
    assert not np.allclose(expected, _loop_field(gen.numpy(), real.numpy(), (0.06, 0.2)), rtol=1e-6, atol=0)
    g = gen.clone().requires_grad_()
    loss = drifting_loss(g, real, affinity_floor=floor)
    assert loss.item() == pytest.approx(float(np.mean(expected ** 2)), rel=1e-12)


def test_each_temperature_has_unit_rms(sets):
    gen, real = sets
    for temp in (0.06, 0.2):
        field = drifting_field(gen, real, (temp,))
        assert field.shape == gen.shape
        assert field.square().mean().sqrt().item() == pytest.approx(1.0, rel=1e-12)


def test_field_is_invariant_to_similarity_transforms_and_equivariant_to_permutation(sets):
    gen, real = sets
    field = drifting_field(gen, real)
    q, _ = torch.linalg.qr(_randn(3, 3, seed=3))
    shift = _randn(1, 3, seed=4) * 10
    torch.testing.assert_close(drifting_field(3.0 * gen @ q + shift, 3.0 * real @ q + shift), field @ q)
    perm = torch.Generator().manual_seed(5)
    perm_g, perm_r = torch.randperm(9, generator=perm), torch.randperm(12, generator=perm)
    torch.testing.assert_close(drifting_field(gen[perm_g], real[perm_r]), field[perm_g])


def test_field_pulls_a_distant_batch_toward_the_real_set():
    gen, real = _randn(16, 2, seed=6) * 0.3, _randn(32, 2, seed=7) * 0.3 + torch.tensor([5.0, 0.0], dtype=torch.float64)
    field = drifting_field(gen, real)
    assert (field[:, 0] > 0).all()


def test_field_is_finite_for_a_single_generated_sample():
    field = drifting_field(_randn(1, 3, seed=8), _randn(5, 3, seed=9))
    assert torch.isfinite(field).all()


def test_loss_regresses_onto_the_stop_gradient_goal(sets):
    gen, real = sets
    g = gen.clone().requires_grad_()
    loss = drifting_loss(g, real)
    loss.backward()
    field = drifting_field(gen, real)
    assert loss.item() == pytest.approx(field.square().mean().item(), rel=1e-12)
    dists = torch.cdist(gen, torch.cat([real, gen]))
    off_self = torch.ones_like(dists, dtype=torch.bool)
    off_self[:, 12:] = ~torch.eye(9, dtype=torch.bool)
    scale = dists[off_self].mean()
    torch.testing.assert_close(g.grad, -2.0 * field / (field.numel() * scale))
