"""k-means, the Nystrom bundle, the closed-form iRDM loss and RFF-MMD against float64 references."""

import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from rdm_core.compare.kernels import rbf
from rdm_core.compare.mmd import (
    NystromBundle,
    attraction,
    build_nystrom_bundle,
    cross_mean,
    irdm_loss,
    kmeans,
    mmd2_exact,
    repulsion,
)
from rdm_core.compare.rff import RFFMap, mmd2_rff

SIGMA = 1.4


def _randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _loop_rbf(x, y, sigma):
    return np.array([[math.exp(-float(np.sum((a - b) ** 2)) / (2 * sigma ** 2)) for b in y] for a in x])


def _f64(bundle):
    return NystromBundle(bundle.Z.double(), bundle.alpha.double(), bundle.sigma, bundle.k_rr)


@pytest.fixture(scope="module")
def ref():
    return _randn(80, 3, seed=1)


@pytest.fixture(scope="module")
def bundle(ref):
    return _f64(build_nystrom_bundle(ref, SIGMA, landmarks=ref[:30]))


# ---------------------------------------------------------------- k-means


def _inertia(x, centroids):
    return torch.cdist(x, centroids).min(1).values.square().sum().item()


def test_kmeans_is_a_deterministic_lloyd_fixed_point():
    x = torch.cat([_randn(40, 2, seed=s) * 0.3 + 4 * s for s in range(3)])
    inertia = [_inertia(x, kmeans(x, 5, iters=it, seed=0)) for it in (0, 1, 3, 30)]
    assert all(a >= b - 1e-12 for a, b in zip(inertia, inertia[1:])), inertia
    found = kmeans(x, 5, iters=30, seed=0)
    assert torch.equal(found, kmeans(x, 5, iters=30, seed=0))
    assign = torch.cdist(x, found).argmin(1)
    for k in range(5):  # converged: every centroid is the mean of its cluster
        torch.testing.assert_close(found[k], x[assign == k].mean(0))
    init = x[torch.randperm(120, generator=torch.Generator().manual_seed(0))[:5]]
    assert torch.equal(kmeans(x, 5, iters=0, seed=0), init)


def test_kmeans_empty_cluster_keeps_its_centroid():
    x = torch.tensor([[0.0], [0.0], [0.0], [5.0]])
    found = kmeans(x, 3, iters=5, seed=0)  # at least two initial centroids coincide at 0
    assert torch.isfinite(found).all()
    assert (found == 0).sum() >= 2


# ---------------------------------------------------------------- Nystrom bundle


def test_bundle_matches_loop_reference(ref):
    z = ref[:12]
    b = build_nystrom_bundle(ref, SIGMA, landmarks=z, chunk=7, k_rr_n=50)
    zn, rn = z.numpy(), ref.numpy()
    k_zz = _loop_rbf(zn, zn, SIGMA) + 1e-6 * np.eye(12)
    alpha = np.linalg.solve(k_zz, _loop_rbf(zn, rn, SIGMA).mean(1))
    np.testing.assert_allclose(b.alpha.numpy(), alpha, rtol=1e-4, atol=1e-6)
    assert b.k_rr == pytest.approx(_loop_rbf(rn[:50], rn[:50], SIGMA).mean(), rel=1e-6)
    assert b.Z.dtype == torch.float32 and b.alpha.dtype == torch.float32


def test_bundle_default_landmarks_are_kmeans_on_seeded_subsample(ref):
    b = build_nystrom_bundle(ref, SIGMA, n_landmarks=6, seed=3, fit_n=40, iters=5)
    fit = ref[torch.randperm(80, generator=torch.Generator().manual_seed(3))[:40]]
    torch.testing.assert_close(b.Z, kmeans(fit, 6, iters=5, seed=3).float())


def test_nystrom_with_all_reference_points_is_near_exact(ref):
    b = _f64(build_nystrom_bundle(ref, SIGMA, landmarks=ref))
    g = _randn(25, 3, seed=2) * 1.2 + 0.3
    assert attraction(g, b).item() == pytest.approx(cross_mean(g, ref, SIGMA).item(), abs=1e-5)
    assert irdm_loss(g, b).item() == pytest.approx(mmd2_exact(g, ref, SIGMA).item(), abs=2e-5)


def test_nystrom_error_shrinks_as_landmarks_grow(ref):
    # With g = ref, exact minus Nystrom cross term is the RKHS projection error ||mu - P mu||^2,
    # which shrinks on nested landmark sets.
    exact = cross_mean(ref, ref, SIGMA).item()
    errors = [exact - attraction(ref, _f64(build_nystrom_bundle(ref, SIGMA, landmarks=ref[:m]))).item()
              for m in (2, 5, 10, 20, 40)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-2 * errors[0]


def test_bundle_safetensors_round_trip(tmp_path, ref):
    b = build_nystrom_bundle(ref, SIGMA, landmarks=ref[:10])
    save_file(b.to_tensors(), str(tmp_path / "bundle.safetensors"))
    back = NystromBundle.from_tensors(load_file(str(tmp_path / "bundle.safetensors")))
    assert torch.equal(back.Z, b.Z) and torch.equal(back.alpha, b.alpha)
    assert back.sigma == b.sigma and back.k_rr == b.k_rr


# ---------------------------------------------------------------- iRDM loss


def _reference_loss(g, b):
    return repulsion(g, b.sigma) - 2 * attraction(g, b) + b.k_rr


def _value_and_grad(fn, g):
    g = g.clone().requires_grad_()
    value = fn(g)
    value.backward()
    return value.detach(), g.grad


@pytest.mark.parametrize("chunk", [None, 1, 4, 7, 17, 100])
def test_irdm_loss_chunks_match_autograd_reference(bundle, chunk):
    g = _randn(17, 3, seed=4) + 0.5
    ref_value, ref_grad = _value_and_grad(lambda a: _reference_loss(a, bundle), g)
    value, grad = _value_and_grad(lambda a: irdm_loss(a, bundle, chunk=chunk), g)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("chunk", [None, 3])
def test_irdm_loss_gradcheck(bundle, chunk):
    g = (_randn(9, 3, seed=5) * 0.8).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: irdm_loss(a, bundle, chunk=chunk), (g,))


def test_attraction_gradcheck(bundle):
    g = (_randn(9, 3, seed=5) * 0.8).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: attraction(a, bundle), (g,))


@pytest.fixture(scope="module")
def scale_bundles(ref):
    return [_f64(build_nystrom_bundle(ref, s, landmarks=ref[:30])) for s in (0.3, 0.9, SIGMA, 3.5)]


@pytest.mark.parametrize("chunk", [None, 1, 5, 17])
def test_irdm_loss_over_shared_landmark_bundles_is_the_sum(scale_bundles, chunk):
    g = _randn(17, 3, seed=4) + 0.5
    ref_value, ref_grad = _value_and_grad(lambda a: sum(_reference_loss(a, b) for b in scale_bundles), g)
    value, grad = _value_and_grad(lambda a: irdm_loss(a, scale_bundles, chunk=chunk), g)
    torch.testing.assert_close(value, ref_value, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-14)
    with torch.no_grad():
        assert irdm_loss(g, scale_bundles, chunk=chunk).item() == pytest.approx(ref_value.item(), rel=1e-12)
    assert torch.autograd.gradcheck(lambda a: irdm_loss(a, scale_bundles, chunk=chunk),
                                    ((g[:9] * 0.8).requires_grad_(),))


def test_irdm_loss_with_underflowing_kernels_matches_float64(ref, scale_bundles):
    # small bandwidths: most exponents lie far below fp32's exp underflow (the floored range)
    b32 = [NystromBundle(b.Z.float(), b.alpha.float(), b.sigma / 20, b.k_rr) for b in scale_bundles]
    b64 = [_f64(b) for b in b32]
    g = _randn(24, 3, seed=9) * 2.0
    ref_value, ref_grad = _value_and_grad(lambda a: sum(_reference_loss(a, b) for b in b64), g)
    for chunk in (None, 7):
        value, grad = _value_and_grad(lambda a: irdm_loss(a, b32, chunk=chunk), g.float())
        assert value.item() == pytest.approx(ref_value.item(), rel=1e-4)  # fp32 distances
        torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-4, atol=1e-7)


def test_irdm_loss_over_bundles_needs_shared_landmarks(ref, scale_bundles):
    other = _f64(build_nystrom_bundle(ref, SIGMA, landmarks=ref[30:60]))
    with pytest.raises(ValueError, match="share their landmarks"):
        irdm_loss(ref[:5], [scale_bundles[0], other])


def test_irdm_loss_without_grad_keeps_no_graph(bundle):
    g = _randn(10, 3, seed=6).requires_grad_()
    with torch.no_grad():
        value = irdm_loss(g, bundle, chunk=4)
    assert not value.requires_grad
    assert value.item() == pytest.approx(_reference_loss(g.detach(), bundle).item(), rel=1e-12)


def test_irdm_loss_fp32_is_accurate_far_from_the_origin(ref):
    offset = 300.0  # raw features with a large common mean
    b64 = _f64(build_nystrom_bundle(ref + offset, SIGMA, landmarks=ref[:20] + offset))
    b32 = NystromBundle(b64.Z.float(), b64.alpha.float(), b64.sigma, b64.k_rr)
    g = _randn(30, 3, seed=7) * 1.1 + offset
    ref_value, ref_grad = _value_and_grad(lambda a: _reference_loss(a, b64), g)
    value, grad = _value_and_grad(lambda a: irdm_loss(a, b32, chunk=8), g.float())
    assert value.item() == pytest.approx(ref_value.item(), abs=1e-4)
    torch.testing.assert_close(grad.double(), ref_grad, rtol=1e-3, atol=1e-5)


# ---------------------------------------------------------------- RFF


def test_rff_map_matches_loop_reference_and_seed():
    rff = RFFMap.from_seed(3, sigma=2.0, n_features=64, seed=99999)
    gen = torch.Generator().manual_seed(99999)
    w = torch.randn(3, 64, generator=gen) / 2.0  # fp32, W before b: the official draw (tests/unit/test_compare_parity.py)
    b = torch.rand(64, generator=gen) * 2 * math.pi
    torch.testing.assert_close(rff.W, w, rtol=0, atol=0)
    torch.testing.assert_close(rff.b, b, rtol=0, atol=0)
    x = _randn(5, 3, seed=8)
    wn, bn = rff.W.double().numpy(), rff.b.double().numpy()
    loop = np.array([[math.sqrt(2 / 64) * math.cos(float(row @ wn[:, k]) + bn[k]) for k in range(64)]
                     for row in x.numpy()])
    np.testing.assert_allclose(rff(x).numpy(), loop, rtol=1e-12, atol=1e-14)


def test_rff_approximates_the_gaussian_kernel():
    x = _randn(6, 4, seed=9)
    rff = RFFMap.from_seed(4, sigma=2.0, n_features=8192, seed=1)
    phi = rff(x)
    assert (phi @ phi.T - rbf(x, x, 2.0)).abs().max() < 0.05


def test_rff_mean_embedding_round_trip_and_gradcheck(tmp_path):
    rff = RFFMap.from_seed(3, sigma=1.5, n_features=32, seed=2)
    x = _randn(20, 3, seed=10)
    mu = rff.mean_embedding(x, chunk=6)
    torch.testing.assert_close(mu, rff(x).mean(0), rtol=1e-12, atol=1e-14)
    save_file(rff.to_tensors(), str(tmp_path / "rff.safetensors"))
    back = RFFMap.from_tensors(load_file(str(tmp_path / "rff.safetensors")))
    assert torch.equal(back.W, rff.W) and torch.equal(back.b, rff.b)
    g = _randn(7, 3, seed=11).requires_grad_()
    assert mmd2_rff(x, mu, rff).item() == pytest.approx(0.0, abs=1e-14)
    assert torch.autograd.gradcheck(lambda a: mmd2_rff(a, mu, rff), (g,))
