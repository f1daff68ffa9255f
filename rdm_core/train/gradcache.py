"""Gradient caching (GradCache, Gao et al. 2021) for a battery loss that couples the whole rollout (SPEC 1.3).

The within-rollout repulsion couples every sample, so ordinary gradient accumulation is invalid. GradCache
gives the exact full-rollout gradient at the memory cost of one chunk:

1. pass 1, no grad: generate and encode every chunk, cache the detached features;
2. middle: compute the battery loss on leaf copies of the full-rollout features, get G_e = dL/dF_e;
3. pass 2: per chunk, regenerate and re-encode with grad and backpropagate sum_e <F_e_chunk, G_e_chunk>.

Pass 2 regenerates from the stored chunk inputs (noise, conditions), so the generator must be
deterministic (no dropout). Bit-exact in fp32 with equal chunks, first-order under bf16.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import torch

Generate = Callable[[Any], torch.Tensor]
BatteryLoss = Callable[[Mapping[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]


def gradcache_step(generate: Generate, inputs: Sequence[Any], encoders: Mapping[str, Callable],
                   battery_loss: BatteryLoss) -> tuple[torch.Tensor, dict[str, float]]:
    """Accumulate the full-rollout gradient of ``battery_loss`` into the parameters' .grad, chunk by chunk.

    ``inputs`` holds one chunk's inputs per entry (rollout = chunk x chunks); ``generate`` maps them to
    images, each encoder maps images to features [n, d]. Returns (detached loss, raw per-encoder losses).
    A non-finite loss leaves the gradients untouched; encoders the loss does not depend on (weight 0) are
    skipped in pass 2.
    """
    cached: dict[str, list[torch.Tensor]] = {name: [] for name in encoders}
    sizes = []
    with torch.no_grad():
        for chunk in inputs:
            images = generate(chunk)
            sizes.append(images.shape[0])
            for name, encode in encoders.items():
                cached[name].append(encode(images))
    features = {name: torch.cat(parts).requires_grad_() for name, parts in cached.items()}
    del cached
    loss, raw = battery_loss(features)
    if not (math.isfinite(loss.item()) and loss.requires_grad):
        return loss.detach(), raw
    names = list(features)
    grads = torch.autograd.grad(loss, [features[n] for n in names], allow_unused=True)
    G = {n: g.split(sizes) for n, g in zip(names, grads) if g is not None}
    del features, grads
    for i, chunk in enumerate(inputs):
        images = generate(chunk)
        surrogate = sum((encoders[n](images) * G[n][i]).sum() for n in G)
        surrogate.backward()
    return loss.detach(), raw


def full_batch_step(generate: Generate, inputs: Sequence[Any], encoders: Mapping[str, Callable],
                    battery_loss: BatteryLoss) -> tuple[torch.Tensor, dict[str, float]]:
    """The same gradient as :func:`gradcache_step`, unchunked: the whole rollout's graph is held at once."""
    images = torch.cat([generate(chunk) for chunk in inputs])
    loss, raw = battery_loss({name: encode(images) for name, encode in encoders.items()})
    if math.isfinite(loss.item()) and loss.requires_grad:
        loss.backward()
    return loss.detach(), raw
