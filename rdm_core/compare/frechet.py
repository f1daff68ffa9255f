"""Differentiable Frechet distance between a batch and frozen Gaussian moments (SPEC App. T, Table 4)."""

from __future__ import annotations

import torch
from torch import Tensor

EIG_FLOOR = 1e-8


def moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of the rows of ``x``."""
    mu = x.mean(0)
    xc = x - mu
    return mu, xc.T @ xc / (x.shape[0] - 1)


def sqrtm_psd(a: Tensor, floor: float = EIG_FLOOR) -> Tensor:
    """Square root of a symmetric PSD matrix by eigendecomposition, eigenvalues clamped at ``floor``."""
    lam, vec = torch.linalg.eigh(0.5 * (a + a.T))
    return (vec * lam.clamp_min(floor).sqrt()) @ vec.T


def frechet_distance(g: Tensor, mu_r: Tensor, cov_r: Tensor, sqrt_cov_r: Tensor | None = None,
                     floor: float = EIG_FLOOR) -> Tensor:
    """``||mu_g - mu_r||^2 + tr(S_g + S_r - 2 (S_g^1/2 S_r S_g^1/2)^1/2)`` of the batch ``g``.

    The cross trace is ``sum_i sqrt(lambda_i)`` over the eigenvalues of ``S_r^1/2 S_g S_r^1/2`` (same
    spectrum as ``S_g^1/2 S_r S_g^1/2``) with the frozen ``S_r^1/2`` (pass ``sqrt_cov_r`` to reuse it),
    in float64, eigenvalues clamped at ``floor``. With ``Y = (g - mu_g) S_r^1/2 / sqrt(B - 1)`` that
    matrix is ``Y^T Y`` [d, d], whose spectrum is the one of the Gram ``Y Y^T`` [B, B] plus ``d - B``
    zeros: the smaller of the two is decomposed, and each omitted zero adds its clamped
    ``sqrt(floor)``, so the value does not depend on which. Only eigenvalues are differentiated, so
    the gradient ``V diag(1 / (2 sqrt(lambda))) V^T`` has no eigen-gap denominators and is bounded
    by ``1 / (2 sqrt(floor))``: it stays finite for repeated eigenvalues and for a rank-deficient batch
    covariance (B <= d).
    """
    b, d = g.shape
    mu_g = g.mean(0)
    xc = g - mu_g
    root_r = sqrtm_psd(cov_r.to(torch.float64), floor) if sqrt_cov_r is None else sqrt_cov_r
    y = (xc.to(torch.float64) @ root_r.to(torch.float64)) / (b - 1) ** 0.5
    gram = y @ y.T if b < d else y.T @ y
    cross = torch.linalg.eigvalsh(gram).clamp_min(floor).sqrt().sum() + max(d - b, 0) * floor ** 0.5
    mean_term = (mu_g - mu_r.to(g)).square().sum()
    return mean_term + xc.square().sum() / (b - 1) + cov_r.to(g).trace() - 2.0 * cross.to(g.dtype)
