"""Drifting field (Deng et al. 2026) as an ablation distance (SPEC App. T "Drifting arm", Table 4)."""

from __future__ import annotations

import torch
from torch import Tensor


def _normalise(gen: Tensor, real: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Divide by the mean distance from the generated samples to all targets (real, then generated),
    self-pairs excluded. Returns ``gen, real, dist [B, R + B]``, the self-pair mask and the scale."""
    n_real, n_gen = real.shape[0], gen.shape[0]
    dist = torch.cdist(gen, torch.cat([real, gen]))
    self_pair = torch.zeros_like(dist, dtype=torch.bool)
    self_pair[:, n_real:].fill_diagonal_(True)
    kept = dist.sum() - dist[:, n_real:].diagonal().sum()  # cdist may leave round-off on self-pairs
    scale = (kept / (dist.numel() - n_gen)).clamp_min(torch.finfo(dist.dtype).tiny)
    return gen / scale, real / scale, dist / scale, self_pair, scale


def _field(gen: Tensor, real: Tensor, dist: Tensor, self_pair: Tensor,
           temperatures: tuple[float, ...], affinity_floor: float) -> Tensor:
    """Sum over temperatures of the unit-RMS drift forces, in the normalised coordinates."""
    n_real = real.shape[0]
    total = torch.zeros_like(gen)
    for temp in temperatures:
        logits = (dist / -temp).masked_fill(self_pair, torch.finfo(dist.dtype).min)
        affinity = (logits.softmax(1) * logits.softmax(0)).clamp_min(affinity_floor).sqrt()
        a_real, a_gen = affinity[:, :n_real], affinity[:, n_real:]
        # attraction weighted by the repulsion mass and vice versa: both carry the same total
        # weight per sample, so the force is a sum of differences (mass-conserving).
        w_attr = a_real * a_gen.sum(1, keepdim=True)
        w_rep = a_gen * a_real.sum(1, keepdim=True)
        force = w_attr @ real - w_rep @ gen
        total += force / force.square().mean().sqrt().clamp_min(torch.finfo(force.dtype).tiny)
    return total


@torch.no_grad()
def _drift(gen: Tensor, real: Tensor, temperatures: tuple[float, ...],
           affinity_floor: float) -> tuple[Tensor, Tensor, Tensor]:
    """Normalised generated samples, their drift field and the normalising scale."""
    gen_n, real_n, dist, self_pair, scale = _normalise(gen.detach(), real.detach())
    return gen_n, _field(gen_n, real_n, dist, self_pair, temperatures, affinity_floor), scale


def drifting_field(gen: Tensor, real: Tensor, temperatures: tuple[float, ...] = (0.06, 0.2),
                   affinity_floor: float = 0.0) -> Tensor:
    """Drift field ``[B, d]`` of the generated samples toward ``real`` (no grad), in coordinates
    normalised by the mean generated-to-target distance; each temperature contributes unit RMS.

    ``affinity_floor`` clamps the product row-softmax x column-softmax before its square root, self-pairs
    included (the official toy code uses 1e-6; 0 leaves the field as SPEC App. T describes it).
    """
    return _drift(gen, real, temperatures, affinity_floor)[1]


def drifting_loss(gen: Tensor, real: Tensor, temperatures: tuple[float, ...] = (0.06, 0.2),
                  affinity_floor: float = 0.0) -> Tensor:
    """Mean squared error between the normalised ``gen`` and the stop-gradient goal ``gen + field``."""
    gen_n, field, scale = _drift(gen, real, temperatures, affinity_floor)
    return (gen / scale - (gen_n + field)).square().mean()
