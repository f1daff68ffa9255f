"""Training of the multi-step baseline: flow matching of the velocity net through the generic loop."""

from __future__ import annotations

import os
from typing import Callable, Mapping

import torch

from ..generators.flow import VelocityNet, sample_noise
from .balance import UniformWeights
from .experiment import LOOP_KEYS, config_section, run_loop, seeded
from .loop import rollout_generator

FLOW_KEYS = LOOP_KEYS + ("batch",)


def train_flow(images: torch.Tensor, conds: torch.Tensor, cfg: Mapping, workdir: str | os.PathLike,
               log: Callable[[str], None] | None = None, model: VelocityNet | None = None) -> VelocityNet:
    """Train the velocity net by flow matching on ``images`` [N, C, H, W] in [0, 1] with per-row
    conditions ``conds`` (class labels by default); resumes from the latest checkpoint in ``workdir``.

    ``cfg``: steps, batch, lr, grad_clip, checkpoint_every, seed, and for the default class-conditional
    net n_classes and width; optional ``time_grid`` n > 0 draws the times from {1, (n-1)/n, ..., 1/n}, the
    ones an n-step Euler sampler visits (a few-step objective), instead of U(0, 1). Step k's minibatch rows,
    noise and times come from
    ``rollout_generator(seed, k)``. The regression runs through the generic loop as a one-term battery:
    "generate" returns the velocity residual v(x_t, t, c) - (e - u) and the loss is its mean square.
    """
    cfg = config_section(cfg, FLOW_KEYS, "flow")
    if model is None:
        model = seeded(lambda: VelocityNet.for_classes(cfg["n_classes"], cfg["width"]), cfg["seed"])
    n, batch, grid = images.shape[0], cfg["batch"], int(cfg.get("time_grid", 0))
    if grid < 0:
        raise ValueError(f"flow config: time_grid must be >= 0 (0: uniform times), got {grid}")

    def times(gen: torch.Generator) -> torch.Tensor:
        if grid:
            return 1.0 - torch.randint(0, grid, (batch,), generator=gen) / grid
        return torch.rand(batch, generator=gen)

    def make_rollout(step: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        gen = rollout_generator(cfg["seed"], step)
        rows = torch.randint(0, n, (batch,), generator=gen)
        return [(rows, sample_noise(batch, gen, tuple(images.shape[1:])), times(gen))]

    def residual(chunk) -> torch.Tensor:
        rows, noise, t = chunk
        u = 2 * images[rows] - 1
        x_t = (1 - t)[:, None, None, None] * u + t[:, None, None, None] * noise
        return model(x_t, t, conds[rows]) - (noise - u)

    def mean_square(features):
        loss = features["velocity"].square().mean()
        return loss, {"velocity": loss.item()}

    return run_loop(model, make_rollout, residual, {"velocity": lambda r: r.flatten(1)}, mean_square,
                    UniformWeights(["velocity"]), cfg, workdir, log)
