"""Gaussian RBF kernel on raw features and the median-heuristic bandwidth (SPEC 1.2)."""

from __future__ import annotations

import torch
from torch import Tensor


def sq_dist(x: Tensor, y: Tensor) -> Tensor:
    """Pairwise squared Euclidean distances ``[N, M]``, clamped at 0 against round-off.

    Both sets are first shifted by the mean of ``x`` (distances are translation invariant), which
    limits the fp32 cancellation of ``|x|^2 + |y|^2 - 2 x.y`` for raw features far from the origin.
    """
    shift = x.mean(0)
    x, y = x - shift, y - shift
    xx = (x * x).sum(1, keepdim=True)
    yy = (y * y).sum(1).unsqueeze(0)
    return torch.addmm(xx + yy, x, y.T, alpha=-2.0).clamp_min(0.0)


def rbf(x: Tensor, y: Tensor, sigma: float) -> Tensor:
    """Gaussian kernel matrix ``exp(-||x_i - y_j||^2 / (2 sigma^2))`` on raw features."""
    return torch.exp(sq_dist(x, y) / (-2.0 * sigma * sigma))


def median_sigma(x: Tensor, n_sub: int = 10_000, seed: int = 0, floor: float = 1e-5,
                 chunk: int = 1024) -> float:
    """Median-heuristic bandwidth: sqrt of the median strict-upper-triangle squared distance.

    Computed in float64 on a seeded random subsample of at most ``n_sub`` rows; the median of an
    even count is the lower of the two middle values (``torch.median``, as the official code); the result is
    floored.
    """
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    rows = x[torch.randperm(n, generator=gen)[:n_sub]] if n > n_sub else x
    rows = rows.detach().to(torch.float64)
    n = rows.shape[0]
    if n < 2:
        return float(floor)
    pairs = torch.empty(n * (n - 1) // 2, dtype=torch.float64, device=rows.device)
    cols = torch.arange(n, device=rows.device)
    at = 0
    for start in range(0, n - 1, chunk):
        block = sq_dist(rows[start:start + chunk], rows)
        upper = block[cols[start:start + block.shape[0], None] < cols]
        pairs[at:at + upper.numel()] = upper
        at += upper.numel()
    med = torch.kthvalue(pairs, (pairs.numel() + 1) // 2).values
    return max(float(med.sqrt()), floor)
