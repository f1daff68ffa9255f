"""The spiral substrate of the toy diagnostic: a 2-turn spiral in the plane, embedded in D = 64.

All functions take the ``toy:`` config mapping; points are float64 in the plane unless noted.
"""

from __future__ import annotations

import math

import torch


def curve(t: torch.Tensor, cfg: dict) -> torch.Tensor:
    """Noiseless spiral at curve parameters ``t`` in [0, 1]: angle turns * 2 pi t, radius linear in t."""
    d = cfg["data"]
    r0, r1 = d["radius"]
    t = t.to(torch.float64)
    angle = d["turns"] * 2.0 * math.pi * t
    radius = r0 + (r1 - r0) * t
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def sample_spiral(cfg: dict, n: int, seed: int) -> torch.Tensor:
    """``n`` real points: t ~ U(0, 1) on the curve plus isotropic Gaussian noise. Returns [n, 2]."""
    g = torch.Generator().manual_seed(int(seed))
    t = torch.rand(n, generator=g, dtype=torch.float64)
    noise = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return curve(t, cfg) + cfg["data"]["noise"] * noise


def real_points(cfg: dict) -> torch.Tensor:
    """The training set: ``data.n_points`` spiral points drawn with the data seed. Returns [n, 2]."""
    return sample_spiral(cfg, cfg["data"]["n_points"], cfg["data"]["seed"])


def anchors(cfg: dict) -> torch.Tensor:
    """Recall anchors: ``data.anchors`` noiseless curve points, t evenly spaced. Returns [60, 2]."""
    return curve(torch.linspace(0.0, 1.0, cfg["data"]["anchors"], dtype=torch.float64), cfg)


def spiral_curve(cfg: dict) -> torch.Tensor:
    """Dense noiseless curve used for medDist (and to draw the curve): [1500, 2]."""
    return curve(torch.linspace(0.0, 1.0, cfg["data"]["dense"], dtype=torch.float64), cfg)


def embedding(dim: int, generator: torch.Generator) -> torch.Tensor:
    """Random orthonormal ``[dim, 2]`` matrix P (QR of a Gaussian drawn from ``generator``).

    The plane maps into R^dim by x P^T and back by x P."""
    q, _ = torch.linalg.qr(torch.randn(dim, 2, generator=generator, dtype=torch.float64))
    return q


def embed(x2d: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """Plane -> R^D (float32): x P^T."""
    return (x2d.to(torch.float64) @ P.T).to(torch.float32)


def to_plane(x: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """R^D -> plane (float64): x P, the orthogonal projection onto the embedded plane."""
    return x.to(torch.float64) @ P
