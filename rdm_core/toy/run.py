"""One toy cell: train the MLP generator on the embedded spiral under one distance and one batch B."""

from __future__ import annotations

import math
import sys
import time

import torch
from torch import nn

from ..optim import FusedAdamW
from .arms import LossFn, make_loss
from .data import embed, embedding, real_points, to_plane
from .generator import make_generator
from .metrics import evaluate

CHECK_EVERY = 500  # steps between host syncs (finite check and progress line)


def cosine_lr(step: int, total: int, lr: float, lr_min: float) -> float:
    """Cosine annealing from ``lr`` at step 0 towards ``lr_min`` at step ``total``."""
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * step / total))


def flatten_parameters(module: nn.Module) -> nn.Parameter:
    """Make every parameter (and its grad) a view into one flat buffer; return that buffer as a Parameter.

    Backward accumulates in place into the existing ``.grad`` views, so clipping and Adam act on one
    tensor each (a few ops per step instead of a few per layer).
    """
    params = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in params]))
    flat.grad = torch.zeros_like(flat)
    at = 0
    for p in params:
        k = p.numel()
        p.data = flat.data[at:at + k].view_as(p)
        p.grad = flat.grad[at:at + k].view_as(p)
        at += k
    return flat


def train(gen: nn.Module, loss_fn: LossFn, batch: int, cfg: dict, rng: torch.Generator,
          label: str = "", progress: bool = True) -> torch.Tensor:
    """Adam + cosine annealing + grad-norm clip, fresh noise every step. Returns the per-step losses.

    A non-finite loss stops training at the next check; the returned losses then end at that step.
    """
    t_cfg, z_dim = cfg["train"], cfg["generator"]["z_dim"]
    total, clip = t_cfg["iterations"], t_cfg["clip"]
    flat = flatten_parameters(gen)
    grad = flat.grad
    opt = FusedAdamW([flat], lr=t_cfg["lr"], weight_decay=0.0)  # Adam
    losses = torch.empty(total)
    for step in range(total):
        opt.lr = cosine_lr(step, total, t_cfg["lr"], t_cfg["lr_min"])
        loss = loss_fn(gen(torch.randn(batch, z_dim, generator=rng)), rng)
        grad.zero_()
        loss.backward()
        grad.mul_((clip / (grad.norm() + 1e-6)).clamp_max(1.0))  # clip_grad_norm_ semantics
        opt.step()
        losses[step] = loss.detach()
        done = step + 1
        if done % CHECK_EVERY == 0 or done == total:
            window = losses[done - min(CHECK_EVERY, done):done]
            finite = bool(torch.isfinite(window).all())
            if progress:
                print(f"[toy {label}] step {done}/{total} loss {float(window.mean()):.5g}",
                      file=sys.stderr, flush=True)
            if not finite:
                return losses[:done]
    return losses


@torch.inference_mode()
def sample_plane(gen: nn.Module, P: torch.Tensor, cfg: dict) -> torch.Tensor:
    """``eval.n_samples`` fresh samples (eval seed) mapped back to the plane: [n, 2] float64."""
    g = torch.Generator().manual_seed(cfg["eval"]["seed"])
    z = torch.randn(cfg["eval"]["n_samples"], cfg["generator"]["z_dim"], generator=g)
    return to_plane(gen(z), P)


def run_cell(cfg: dict, distance: str, batch: int, progress: bool = True) -> tuple[dict, torch.Tensor]:
    """Train one cell (distance x B) and score it. Returns (metrics, the [n_eval, 2] plane samples).

    ``iterations`` counts the steps actually run (fewer if the loss went non-finite); ``final_loss``
    is the mean loss of the last 100 of them; ``finite`` is False if any loss or sample is non-finite.
    """
    seed = cfg["train"]["seed"]
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg["train"]["threads"])
    try:
        start = time.perf_counter()
        rng = torch.Generator().manual_seed(seed)
        P = embedding(cfg["data"]["dim"], rng)
        loss_fn = make_loss(distance, embed(real_points(cfg), P), batch, cfg, rng)
        gen = make_generator(cfg, seed)
        losses = train(gen, loss_fn, batch, cfg, rng, label=f"{distance} B={batch}", progress=progress)
        samples = sample_plane(gen, P, cfg)
        finite = bool(torch.isfinite(losses).all()) and bool(torch.isfinite(samples).all())
        metrics = {"distance": distance, "batch": batch, "iterations": int(losses.numel()), "seed": seed,
                   **evaluate(samples, cfg), "finite": finite,
                   "seconds": time.perf_counter() - start, "final_loss": float(losses[-100:].mean())}
        return metrics, samples
    finally:
        torch.set_num_threads(threads)
