"""Kernels, bandwidth and exact MMD against slow float64 references."""

import math

import numpy as np
import pytest
import torch

from rdm_core.compare.kernels import median_sigma, rbf, sq_dist
from rdm_core.compare.mmd import cross_mean, mmd2_exact, repulsion


def _loop_sq_dist(x, y):
    return np.array([[float(np.sum((xi - yj) ** 2)) for yj in y] for xi in x])


def _loop_rbf(x, y, sigma):
    return np.exp(-_loop_sq_dist(x, y) / (2 * sigma ** 2))


@pytest.fixture
def xy():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(13, 4, generator=gen, dtype=torch.float64) * 2 + 1
    y = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    return x, y


def test_sq_dist_and_rbf_match_loops(xy):
    x, y = xy
    np.testing.assert_allclose(sq_dist(x, y).numpy(), _loop_sq_dist(x.numpy(), y.numpy()), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rbf(x, y, 1.7).numpy(), _loop_rbf(x.numpy(), y.numpy(), 1.7), rtol=1e-12)


def test_sq_dist_is_clamped_nonnegative():
    x = torch.full((5, 3), 1e4, dtype=torch.float32) + torch.arange(5.0)[:, None] * 1e-3
    assert (sq_dist(x, x) >= 0).all()


def test_repulsion_cross_and_exact_mmd_match_loops(xy):
    x, y = xy
    xn, yn, s = x.numpy(), y.numpy(), 1.3
    k_xx, k_xy, k_yy = _loop_rbf(xn, xn, s), _loop_rbf(xn, yn, s), _loop_rbf(yn, yn, s)
    assert repulsion(x, s).item() == pytest.approx(k_xx.sum() / 13 ** 2, rel=1e-12)  # diagonal included
    assert cross_mean(x, y, s).item() == pytest.approx(k_xy.mean(), rel=1e-12)
    assert mmd2_exact(x, y, s).item() == pytest.approx(k_xx.mean() - 2 * k_xy.mean() + k_yy.mean(), rel=1e-10)
    assert mmd2_exact(x, x, s).item() == pytest.approx(0.0, abs=1e-12)


def test_rbf_losses_gradcheck(xy):
    x, y = xy
    x = x[:6].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda a: repulsion(a, 1.1), (x,))
    assert torch.autograd.gradcheck(lambda a: cross_mean(a, y, 1.1), (x,))
    assert torch.autograd.gradcheck(lambda a: mmd2_exact(a, y, 1.1), (x,))


def _numpy_median_sigma(x):
    """sqrt of the lower median (torch.median's, the official convention) of the upper-triangle distances."""
    pairs = np.sort(_loop_sq_dist(x, x)[np.triu_indices(len(x), k=1)])
    return math.sqrt(pairs[(len(pairs) - 1) // 2])


@pytest.mark.parametrize("n", [7, 8, 40])  # odd and even numbers of pairs
def test_median_sigma_matches_numpy_on_all_rows(n):
    x = torch.randn(n, 5, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    assert median_sigma(x, n_sub=100, chunk=3) == pytest.approx(_numpy_median_sigma(x.numpy()), rel=1e-12)


def test_median_sigma_uses_seeded_subsample():
    x = torch.randn(60, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    idx = torch.randperm(60, generator=torch.Generator().manual_seed(5))[:25]
    expected = _numpy_median_sigma(x[idx].numpy())
    assert median_sigma(x, n_sub=25, seed=5, chunk=4) == pytest.approx(expected, rel=1e-12)
    assert median_sigma(x.float(), n_sub=25, seed=5) == pytest.approx(expected, rel=1e-6)


def test_median_sigma_floor():
    assert median_sigma(torch.ones(10, 3)) == 1e-5


def test_package_reexports_only_evaluation_safe_names():
    import rdm_core.compare as compare
    from rdm_core.compare import mmd, rff, sliced

    assert compare.RFFMap is rff.RFFMap is mmd.RFFMap and compare.sw2 is sliced.sw2
    assert not any(hasattr(compare, name) for name in ("irdm_loss", "frechet_distance", "drifting_loss"))


def test_fp32_distances_are_accurate_far_from_the_origin(xy):
    x, y = xy
    offset = 1000.0
    expected = _loop_sq_dist(x.numpy(), y.numpy())
    np.testing.assert_allclose(sq_dist(x.float() + offset, y.float() + offset).numpy(), expected, rtol=1e-3, atol=1e-3)
