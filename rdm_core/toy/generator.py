"""The toy one-step generator: an MLP from z ~ N(0, I_2) to R^64."""

from __future__ import annotations

import torch
from torch import nn


def make_generator(cfg: dict, seed: int) -> nn.Sequential:
    """Linear(z_dim, hidden) + ReLU, then ``depth - 1`` x (Linear(hidden, hidden) + ReLU), then
    Linear(hidden, D).

    Weights use PyTorch's default init under ``seed``; the global RNG state is left untouched.
    """
    g, dim = cfg["generator"], cfg["data"]["dim"]
    widths = [g["z_dim"]] + [g["hidden"]] * g["depth"]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], dim))
        return nn.Sequential(*layers)
