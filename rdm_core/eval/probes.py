"""Probes of the metric itself: a fresh real draw must score about 1.00, degraded images well above."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def fresh_rows(n_rows: int, bank_idx: Tensor, n: int) -> Tensor:
    """The first ``n`` row indices that are not in the SW bank (real data the banks never saw)."""
    unused = torch.ones(n_rows, dtype=torch.bool)
    unused[bank_idx] = False
    idx = unused.nonzero().squeeze(1)
    if len(idx) < n:
        raise ValueError(f"only {len(idx)} real rows lie outside the SW bank, the probe needs {n}")
    return idx[:n]


def gaussian_blur(images: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [N, C, H, W] images (reflect padding)."""
    radius = max(1, int(3 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    k = torch.exp(-x ** 2 / (2 * sigma ** 2))
    k = (k / k.sum()).to(images)
    c = images.shape[1]
    out = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(out, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def probe_images(real: Tensor, bank_idx: Tensor, n: int, seed: int, blur_sigma: float = 1.5) -> dict[str, Tensor]:
    """Fresh real images outside the bank, the same blurred, and uniform noise of the same shape."""
    fresh = real[fresh_rows(len(real), bank_idx, n)]
    noise = torch.rand(fresh.shape, generator=torch.Generator().manual_seed(seed))
    return {"fresh real": fresh, "blurred real": gaussian_blur(fresh, blur_sigma), "uniform noise": noise}
