"""Sliced Wasserstein: training loss, evaluation SW_2 vs POT and a loop reference, cached banks."""

import math

import ot
import pytest
import torch
from safetensors.torch import load_file, save_file

from rdm_core.compare.sliced import SortedBank, random_directions, sw2, sw_directions, sw_loss


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _loop_sw2(x, y, theta):
    total = 0.0
    for t in theta:
        px, py = sorted(float(v) for v in x @ t), sorted(float(v) for v in y @ t)
        total += sum((a - b) ** 2 for a, b in zip(px, py)) / len(px)
    return math.sqrt(total / len(theta))


def test_random_directions_are_unit_and_seeded():
    theta = random_directions(7, 50, torch.Generator().manual_seed(3))
    assert theta.shape == (50, 7)
    torch.testing.assert_close(theta.norm(dim=1), torch.ones(50))
    assert torch.equal(theta, random_directions(7, 50, torch.Generator().manual_seed(3)))


def test_evaluation_directions_come_in_chunks_from_one_seed():
    gen = torch.Generator().manual_seed(0)
    expected = torch.cat([random_directions(5, 64, gen), random_directions(5, 36, gen)])
    assert torch.equal(sw_directions(5, 100, seed=0, chunk=64), expected)
    assert torch.equal(sw_directions(5, 100, seed=0)[:64], sw_directions(5, 64, seed=0))


def test_sw2_matches_pot_and_loop_with_same_projections():
    x, y = _randn(120, 6, seed=1), _randn(100, 6, seed=2) * 1.3 + 0.2
    theta = sw_directions(6, 40, seed=0).double()
    ours = sw2(x, y, n_proj=40, seed=0)  # truncated to the common 100 rows
    pot = ot.sliced_wasserstein_distance(x[:100].numpy(), y.numpy(), projections=theta.numpy().T, p=2)
    assert ours == pytest.approx(float(pot), rel=1e-10)
    assert ours == pytest.approx(_loop_sw2(x[:100].numpy(), y.numpy(), theta.numpy()), rel=1e-10)
    assert ours == pytest.approx(sw2(x.float(), y.float(), n_proj=40, seed=0), rel=1e-5)


def test_cached_bank_scores_like_both_sides_and_round_trips(tmp_path):
    x, y = _randn(90, 4, seed=3).float(), _randn(80, 4, seed=4).float() + 0.5
    bank = SortedBank.build(y, n_proj=100, seed=0, chunk=64)
    assert bank.n == 80 and bank.theta.shape == (100, 4)
    assert bank.score(x, block=7) == pytest.approx(sw2(x, y, n_proj=100), rel=1e-6)
    save_file(bank.to_tensors(), str(tmp_path / "bank.safetensors"))
    back = SortedBank.from_tensors(load_file(str(tmp_path / "bank.safetensors")))
    assert sw2(x, back) == bank.score(x)
    with pytest.raises(ValueError):
        bank.score(x[:50])


def test_sw2_of_a_set_with_itself_is_zero():
    x = _randn(64, 3, seed=5)
    assert sw2(x, x, n_proj=16) == 0.0


def test_sw_loss_matches_loop_and_is_differentiable():
    x, y = _randn(12, 4, seed=6), _randn(12, 4, seed=7)
    theta = random_directions(4, 9, torch.Generator().manual_seed(8), dtype=torch.float64)
    loss = sw_loss(x, y, 9, torch.Generator().manual_seed(8))
    assert loss.item() == pytest.approx(_loop_sw2(x.numpy(), y.numpy(), theta.numpy()) ** 2, rel=1e-12)
    g = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a: sw_loss(a, y, 9, torch.Generator().manual_seed(8)), (g,))
    with pytest.raises(ValueError):
        sw_loss(x, y[:5], 9, torch.Generator())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sw_loss_gradient_equals_torch_sort(dtype):
    x, y = _randn(33, 5, seed=11).to(dtype), _randn(33, 5, seed=12).to(dtype)
    theta = random_directions(5, 40, torch.Generator().manual_seed(1), dtype=dtype)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = (torch.sort(theta @ a.T, dim=1).values - torch.sort(theta @ y.T, dim=1).values).square().mean()
    ours = sw_loss(b, y, 40, torch.Generator().manual_seed(1))
    ref.backward()
    ours.backward()
    assert ours.item() == ref.item()
    torch.testing.assert_close(b.grad, a.grad, rtol=0, atol=0)


def test_sw_loss_draws_fresh_directions_each_call():
    x, y = _randn(10, 4, seed=9), _randn(10, 4, seed=10)
    gen = torch.Generator().manual_seed(0)
    assert sw_loss(x, y, 4, gen).item() != sw_loss(x, y, 4, gen).item()
