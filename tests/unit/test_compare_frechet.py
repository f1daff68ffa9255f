"""Frechet distance against a scipy.linalg.sqrtm reference, and its guarded gradient."""

import numpy as np
import pytest
import scipy.linalg
import torch

from rdm_core.compare.frechet import frechet_distance, moments, sqrtm_psd


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _scipy_fd(g, r):
    mu_g, mu_r = g.mean(0), r.mean(0)
    s_g, s_r = np.cov(g, rowvar=False), np.cov(r, rowvar=False)
    cross = scipy.linalg.sqrtm(s_g @ s_r).real
    return float(np.sum((mu_g - mu_r) ** 2) + np.trace(s_g) + np.trace(s_r) - 2 * np.trace(cross))


def test_moments_match_numpy():
    x = _randn(30, 4, seed=1)
    mu, cov = moments(x)
    np.testing.assert_allclose(mu.numpy(), x.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(x.numpy(), rowvar=False), rtol=1e-12)


def test_sqrtm_psd_matches_scipy():
    a = _randn(6, 6, seed=2)
    spd = a @ a.T + 0.1 * torch.eye(6, dtype=torch.float64)
    np.testing.assert_allclose(sqrtm_psd(spd).numpy(), scipy.linalg.sqrtm(spd.numpy()).real, rtol=1e-9, atol=1e-10)


def test_frechet_matches_scipy_reference():
    g = _randn(200, 5, seed=3) @ _randn(5, 5, seed=4) + 0.3
    r = _randn(300, 5, seed=5) * 1.5
    mu_r, cov_r = moments(r)
    expected = _scipy_fd(g.numpy(), r.numpy())
    assert frechet_distance(g, mu_r, cov_r).item() == pytest.approx(expected, rel=1e-9)
    value = frechet_distance(g, mu_r, cov_r, sqrt_cov_r=sqrtm_psd(cov_r))
    assert value.item() == pytest.approx(expected, rel=1e-9)


def test_frechet_gradcheck_full_rank():
    r = _randn(50, 3, seed=6)
    mu_r, cov_r = moments(r)
    g = (_randn(20, 3, seed=7) * 0.7 + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: frechet_distance(a, mu_r, cov_r), (g,))


@pytest.mark.parametrize("batch", [3, 9, 40])
def test_gram_form_equals_the_d_by_d_eigenproblem(batch):
    """For B < d the B x B Gram is decomposed: value and gradient equal those of the d x d matrix
    S_r^1/2 S_g S_r^1/2 with every eigenvalue clamped at the floor (B = 40 > d takes the d x d path)."""
    d, floor = 12, 1e-8
    r = _randn(300, d, seed=14) * 0.8
    mu_r, cov_r = moments(r)
    root_r = sqrtm_psd(cov_r)

    def reference(g):
        mu_g, cov_g = moments(g)
        m = root_r @ cov_g @ root_r
        cross = torch.linalg.eigvalsh(0.5 * (m + m.T)).clamp_min(floor).sqrt().sum()
        return (mu_g - mu_r).square().sum() + cov_g.trace() + cov_r.trace() - 2.0 * cross

    g = (_randn(batch, d, seed=15) + 0.1).requires_grad_()
    value, want = frechet_distance(g, mu_r, cov_r, floor=floor), reference(g)
    assert value.item() == pytest.approx(want.item(), rel=1e-10)
    (grad,), (want_grad,) = torch.autograd.grad(value, g), torch.autograd.grad(want, g)
    torch.testing.assert_close(grad, want_grad, rtol=1e-7, atol=1e-10)
    assert torch.autograd.gradcheck(lambda a: frechet_distance(a, mu_r, cov_r, floor=floor), (g,))


@pytest.mark.parametrize("batch", [2, 8, 32])
def test_frechet_gradient_finite_for_rank_deficient_batch(batch):
    d = 64  # the toy's dimension; the batch covariance has rank < d
    r = _randn(2000, 2, seed=8) @ _randn(2, d, seed=9)  # rank-2 reference, as in the toy embedding
    mu_r, cov_r = moments(r)
    for dtype in (torch.float64, torch.float32):
        g = _randn(batch, d, seed=10).to(dtype).requires_grad_()
        value = frechet_distance(g, mu_r.to(dtype), cov_r.to(dtype))
        value.backward()
        assert torch.isfinite(value) and torch.isfinite(g.grad).all()


def test_frechet_of_identical_distribution_is_zero_with_finite_gradient():
    g = _randn(6, 10, seed=11).requires_grad_()  # B < d and the minimum of the distance
    mu_r, cov_r = (m.detach() for m in moments(g))
    value = frechet_distance(g, mu_r, cov_r)
    value.backward()
    assert value.item() == pytest.approx(0.0, abs=2 * 10 * 1e-4)  # clamped eigenvalues add <= sqrt(1e-8) each
    assert torch.isfinite(g.grad).all()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_frechet_gradient_finite_for_collapsed_batch(dtype):
    # all rows equal: S_g = 0 has fully repeated eigenvalues, where an eigenvector-based sqrtm
    # backward divides by zero eigen-gaps
    r = _randn(100, 16, seed=12)
    mu_r, cov_r = moments(r)
    g = _randn(1, 16, seed=13).to(dtype).repeat(8, 1).requires_grad_()
    value = frechet_distance(g, mu_r.to(dtype), cov_r.to(dtype))
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(g.grad).all()
