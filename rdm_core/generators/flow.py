"""The multi-step baseline: a conditional rectified-flow (flow-matching) model with a small conv velocity net.

Convention: data u = 2x - 1 in [-1, 1], noise e ~ N(0, I), x_t = (1 - t) u + t e, velocity v = e - u; sampling
runs Euler from t = 1 (noise) to t = 0 (data). The condition enters through a pluggable module mapping
it to a vector (a class embedding at mini scale, a projection of a caption embedding for text-to-image).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .mini import SIZE, FiLMBlock


class VelocityNet(nn.Module):
    """v(x_t, t, c): a conv U-net on 2x2 pixel patches (14 -> 7 -> 14 for 28 px, one skip), every block
    FiLM-conditioned on time embedding + projected condition ``cond(c)`` of width ``cond_dim``; images of
    ``channels`` channels (1: grey digits, 3: RGB compositions) and any side divisible by 4."""

    def __init__(self, cond: nn.Module, cond_dim: int, width: int = 32, emb_dim: int = 64, n_freq: int = 16,
                 channels: int = 1):
        super().__init__()
        self.channels = channels
        self.cond = cond
        self.cond_proj = nn.Linear(cond_dim, emb_dim)
        self.register_buffer("freqs", torch.exp(torch.linspace(0.0, math.log(1000.0), n_freq)))
        self.time = nn.Sequential(nn.Linear(2 * n_freq, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        w = width
        self.inp = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(4 * channels, w, 3, 1, 1))
        self.mid14 = FiLMBlock(w, w, emb_dim)
        self.down7 = FiLMBlock(w, 2 * w, emb_dim, "down")
        self.mid7 = FiLMBlock(2 * w, 2 * w, emb_dim)
        self.up14 = FiLMBlock(2 * w, w, emb_dim, "up")
        self.fuse14 = FiLMBlock(2 * w, w, emb_dim)
        self.out = nn.Sequential(nn.Conv2d(w, 4 * channels, 3, 1, 1), nn.PixelShuffle(2))
        nn.init.zeros_(self.out[0].weight)
        nn.init.zeros_(self.out[0].bias)

    @classmethod
    def for_classes(cls, n_classes: int, width: int = 32, emb_dim: int = 64) -> "VelocityNet":
        """Class-conditional net: the condition is an int64 label, embedded by a lookup table."""
        return cls(nn.Embedding(n_classes, emb_dim), emb_dim, width, emb_dim)

    def stem(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The first feature map (half resolution); subclasses may feed the condition in here too."""
        return self.inp(x)

    def forward(self, x: torch.Tensor, t: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        angles = t[:, None] * self.freqs
        e = self.time(torch.cat([angles.sin(), angles.cos()], 1)) + self.cond_proj(self.cond(c))
        h14 = self.mid14(self.stem(x, c), e)
        h = self.up14(self.mid7(self.down7(h14, e), e), e)
        return self.out(self.fuse14(torch.cat([h, h14], 1), e))


def sample_noise(n: int, generator: torch.Generator, shape: tuple[int, ...] = (1, SIZE, SIZE)) -> torch.Tensor:
    """Image-shaped starting noise [n, *shape] (default a 28 px grey digit)."""
    return torch.randn(n, *shape, generator=generator)


def sample(model: VelocityNet, z: torch.Tensor, c: torch.Tensor, steps: int) -> torch.Tensor:
    """Euler from noise ``z`` (t = 1) to data (t = 0) in ``steps`` uniform steps; images in [0, 1].

    Differentiable (no ``no_grad`` inside), so a few-step sampler can itself be post-trained.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    u = z
    for i in range(steps):
        t = torch.full((z.shape[0],), 1.0 - i / steps, dtype=z.dtype, device=z.device)
        u = u - model(u, t, c) / steps
    return ((u + 1) / 2).clamp(0.0, 1.0)
