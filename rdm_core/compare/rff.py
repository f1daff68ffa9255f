"""Random-Fourier-feature MMD (SPEC 2.3): the MMDr14 metric and the RFF training arm.

Kept apart from :mod:`.mmd` so that evaluation can use it without importing the training loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class RFFMap:
    """Random Fourier features ``sqrt(2/D) cos(x W + b)`` of the Gaussian kernel (SPEC 2.3)."""

    W: Tensor
    b: Tensor

    @classmethod
    def from_seed(cls, d: int, sigma: float, n_features: int = 4096, seed: int = 99999,
                  device: str | torch.device = "cpu") -> "RFFMap":
        """``W ~ N(0, sigma^-2 I)`` then ``b ~ U[0, 2 pi)`` in fp32 from one generator on ``device`` seeded with
        ``seed`` (the official code's draw, so a seed gives its frequencies and phases)."""
        gen = torch.Generator(device=device).manual_seed(seed)
        w = torch.randn(d, n_features, generator=gen, device=device) / float(sigma)
        b = torch.rand(n_features, generator=gen, device=device) * (2.0 * math.pi)
        return cls(W=w, b=b)

    def __call__(self, x: Tensor) -> Tensor:
        proj = torch.addmm(self.b.to(x), x, self.W.to(x))
        return torch.cos(proj) * math.sqrt(2.0 / self.W.shape[1])

    def mean_embedding(self, x: Tensor, chunk: int = 8192) -> Tensor:
        """``mean_i phi(x_i)`` streamed in row chunks, accumulated in float64, returned in x's dtype."""
        total = sum(self(x[s:s + chunk]).sum(0, dtype=torch.float64) for s in range(0, x.shape[0], chunk))
        return (total / x.shape[0]).to(x.dtype)

    def to_tensors(self) -> dict[str, Tensor]:
        return {"W": self.W.contiguous(), "b": self.b.contiguous()}

    @classmethod
    def from_tensors(cls, d: dict[str, Tensor]) -> "RFFMap":
        return cls(W=d["W"], b=d["b"])


def mmd2_rff(g: Tensor, mu_r: Tensor, rff: RFFMap) -> Tensor:
    """RFF estimate of the squared MMD, ``||mean_i phi(g_i) - mu_r||^2`` (differentiable)."""
    diff = rff(g).mean(0) - mu_r.to(g)
    return (diff * diff).sum()
