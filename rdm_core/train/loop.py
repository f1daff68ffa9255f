"""The generic training loop: a fresh rollout each step, GradCache, balanced battery, resume (SPEC 1.3-1.6)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..optim import FusedAdamW
from .balance import self_normalise
from .checkpoint import Checkpointer, capture_rng, restore_rng
from .distributed import slowest
from .gradcache import BatteryLoss, Generate, full_batch_step, gradcache_step


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings: AdamW (0.9, 0.95), weight decay 0, constant ``lr``, grad-norm clip.

    ``grad_divisor`` divides the gradient before the clip (1: the exact dL/dtheta; see :func:`grad_divisor`).
    ``seconds``: a wall-clock budget; the run stops after the step that brings its training time (the sum of
    the steps' seconds, kept in the checkpoints) to ``seconds``, or at ``steps``, whichever comes first.
    ``ema``: a decay d in [0, 1) keeps an exponential moving average of the trainable parameters,
    e <- d e + (1 - d) theta after every applied step (from e = theta at the start), checkpointed with the
    run; the returned model holds the average. None: no average (the model's own weights).
    """

    steps: int
    lr: float
    grad_clip: float
    checkpoint_every: int
    max_bad_steps: int = 5        # non-finite steps in a row before the run stops
    grad_divisor: float = 1.0
    seconds: float | None = None
    ema: float | None = None


GRAD_SCALES = ("exact", "per_chunk")


def grad_divisor(cfg: Mapping[str, Any]) -> float:
    """What an arm's ``grad_scale`` divides the gradient by before the clip: 1 for ``exact`` (the default:
    dL/dtheta of the rollout's loss); N / chunk for ``per_chunk``, the official trainer's
    ``grad_accum x world_size`` (it scales the loss by 1 / grad_accum before the backward and averages the
    ranks' gradients; ``chunk`` is the per-rank micro-batch, ``rollout`` N)."""
    scale = cfg.get("grad_scale", "exact")
    if scale not in GRAD_SCALES:
        raise ValueError(f"grad_scale must be one of {GRAD_SCALES}, not {scale!r}")
    return 1.0 if scale == "exact" else cfg["rollout"] / cfg["chunk"]


def loop_config(cfg: Mapping[str, Any]) -> TrainConfig:
    """The loop settings of an arm's config: steps, lr, grad_clip, checkpoint_every, optionally grad_scale
    (:func:`grad_divisor`), seconds (a wall-clock budget) and ema (a decay of the weights' average)."""
    ema = cfg.get("ema")
    if ema is not None and not 0.0 <= ema < 1.0:
        raise ValueError(f"ema must be a decay in [0, 1) or null, got {ema!r}")
    return TrainConfig(steps=cfg["steps"], lr=cfg["lr"], grad_clip=cfg["grad_clip"],
                       checkpoint_every=cfg["checkpoint_every"], grad_divisor=grad_divisor(cfg),
                       seconds=cfg.get("seconds"), ema=ema)


def rollout_generator(seed: int, step: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch generator seeded by (seed, step), so a step's rollout does not depend on RNG history."""
    lo, hi = np.random.SeedSequence([seed, step]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device).manual_seed((int(hi) << 31) ^ int(lo))


def battery_loss_fn(bundles: Mapping[str, Any], loss_fn: Callable[[torch.Tensor, Any], torch.Tensor],
                    controller) -> BatteryLoss:
    """features -> (sum_phi lambda_phi * self_normalise(L_phi), raw L_phi), lambda read from the controller.

    ``loss_fn(g, bundle)`` is one encoder's loss (e.g. ``irdm_loss``). Encoders with weight 0 still report
    their raw loss but add no term, so they cost no backward pass.
    """
    def battery_loss(features: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        if set(features) != set(bundles):
            raise KeyError(f"features for encoders {sorted(features)}, bundles for {sorted(bundles)}")
        raw, total = {}, None
        for name, bundle in bundles.items():
            L = loss_fn(features[name], bundle)
            raw[name] = L.item()
            weight = controller.weights[name]
            if weight != 0:
                term = weight * self_normalise(L)
                total = term if total is None else total + term
        if total is None:  # every encoder satisfied: nothing to descend
            g = next(iter(features.values()))
            total = torch.zeros((), dtype=g.dtype, device=g.device)
        return total, raw
    return battery_loss


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _log_stderr(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


def train(model: nn.Module, make_rollout: Callable[[int], Sequence[Any]], generate: Generate,
          encoders: Mapping[str, Callable], battery_loss: BatteryLoss, controller,
          cfg: TrainConfig | Mapping[str, Any], workdir: str | os.PathLike,
          log: Callable[[str], None] = _log_stderr,
          reduce_grads: Callable[[list[torch.Tensor]], None] | None = None, writer: bool = True) -> nn.Module:
    """Train ``model`` for ``cfg.steps`` steps, resuming from the latest checkpoint in ``workdir``.

    Step k (1-based) draws ``make_rollout(k)`` (a list of chunk inputs, fresh every step; seed it with
    :func:`rollout_generator`), takes one GradCache step (unchunked when there is one chunk), clips, and
    steps AdamW; the controller updates after every step, a skipped one too (as the official loop), its
    weights used on the next step. The gradient is divided by ``cfg.grad_divisor`` before the clip. A
    step with a non-finite loss, raw loss or grad norm is skipped and counted; ``cfg.max_bad_steps`` in a
    row raise. With ``cfg.seconds`` the run stops once its training time reaches that budget.
    ``workdir/metrics.jsonl`` gets one JSON line per step (step, loss, raw, the weights used, grad_norm,
    skipped, skipped_total, seconds); on resume the lines after the checkpoint are dropped.

    Data-parallel ranks pass ``reduce_grads`` (called on the trainable parameters after the backward
    passes, before clipping: e.g. an all-reduce) and ``writer=False`` on every rank but one, so a single
    rank writes the metrics and checkpoints that every rank resumes from; a step's seconds are the slowest
    rank's, so all ranks stop at the same step under a wall-clock budget.
    """
    if not isinstance(cfg, TrainConfig):
        cfg = TrainConfig(**cfg)
    workdir = Path(workdir)
    ckpt = Checkpointer(workdir, cfg.checkpoint_every)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = FusedAdamW(params, lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    ema = None if cfg.ema is None else [p.detach().clone() for p in params]
    start, skipped_total, bad_streak, offset, elapsed = 0, 0, 0, 0, 0.0
    resumed = ckpt.latest()
    if resumed is not None:
        start, state = resumed
        if start > cfg.steps:
            raise ValueError(f"{ckpt.path(start)} is at step {start}, past the configured {cfg.steps} steps")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        controller.load_state_dict(state["controller"])
        if ema is not None:
            if "ema" not in state:
                raise ValueError(f"{ckpt.path(start)} has no weight average, but the config asks for ema={cfg.ema}")
            torch._foreach_copy_(ema, state["ema"])
        restore_rng(state["rng"])
        skipped_total, bad_streak = state["loop"]["skipped_total"], state["loop"]["bad_streak"]
        elapsed = state["loop"].get("seconds", 0.0)
        offset = state["metrics_offset"]
        log(f"resuming from step {start} (checkpoint {ckpt.path(start)})")

    metrics_path = workdir / "metrics.jsonl"
    if writer:
        metrics_path.touch()
        if metrics_path.stat().st_size < offset:
            raise RuntimeError(f"{metrics_path} is shorter than checkpoint step {start} recorded; "
                               "the log lost lines, so it cannot be resumed consistently")
    else:
        offset = 0
    with (open(metrics_path, "r+b") if writer else io.BytesIO()) as metrics, \
            tqdm(total=cfg.steps, initial=start, file=sys.stderr, mininterval=1.0, desc="train") as bar:
        metrics.truncate(offset)  # drop lines written after the checkpoint by the interrupted run
        metrics.seek(offset)
        for step in range(start + 1, cfg.steps + 1):
            if cfg.seconds is not None and elapsed >= cfg.seconds:
                break  # resumed from the checkpoint that spent the budget
            t0 = time.perf_counter()
            weights = dict(controller.weights)
            inputs = make_rollout(step)
            optimizer.zero_grad(set_to_none=True)
            step_fn = full_batch_step if len(inputs) == 1 else gradcache_step
            loss, raw = step_fn(generate, inputs, encoders, battery_loss)
            if reduce_grads is not None:
                reduce_grads(params)
            if cfg.grad_divisor != 1:
                torch._foreach_div_([p.grad for p in params if p.grad is not None], cfg.grad_divisor)
            loss = loss.item()
            finite = math.isfinite(loss) and all(math.isfinite(v) for v in raw.values())
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip).item() if finite else math.nan
            skipped = not (finite and math.isfinite(grad_norm))
            if skipped:
                optimizer.zero_grad(set_to_none=True)
                skipped_total += 1
                bad_streak += 1
            else:
                optimizer.step()
                if ema is not None:
                    torch._foreach_lerp_(ema, [p.detach() for p in params], 1.0 - cfg.ema)
                bad_streak = 0
            controller.update(raw)
            seconds = slowest(time.perf_counter() - t0)
            elapsed += seconds
            record = {"step": step, "loss": _finite_or_none(loss),
                      "raw": {n: _finite_or_none(v) for n, v in raw.items()}, "weights": weights,
                      "grad_norm": _finite_or_none(grad_norm), "skipped": skipped,
                      "skipped_total": skipped_total, "seconds": seconds}
            metrics.write((json.dumps(record) + "\n").encode())
            metrics.flush()
            bar.update(1)
            bar.set_postfix_str(f"loss={loss:.4g} "
                                + " ".join(f"{n}={w:.2f}" for n, w in controller.weights.items()))
            if bad_streak >= cfg.max_bad_steps:
                nonfinite = ", ".join(n for n, v in raw.items() if not math.isfinite(v))
                raise RuntimeError(
                    f"step {step}: {bad_streak} steps in a row had a non-finite loss or gradient norm "
                    f"(max_bad_steps={cfg.max_bad_steps}); encoders with a non-finite loss at this step: "
                    f"{nonfinite or 'none (the total loss or gradient norm was non-finite)'}")
            spent = cfg.seconds is not None and elapsed >= cfg.seconds
            if writer and (ckpt.due(step) or step == cfg.steps or spent):
                os.fsync(metrics.fileno())
                ckpt.save(step, {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                 "controller": controller.state_dict(), "rng": capture_rng(),
                                 **({} if ema is None else {"ema": ema}),
                                 "loop": {"skipped_total": skipped_total, "bad_streak": bad_streak,
                                          "seconds": elapsed},
                                 "metrics_offset": metrics.tell()})
            if spent:
                log(f"step {step}: the wall-clock budget of {cfg.seconds:g} s is spent ({elapsed:.1f} s)")
                break
    if ema is not None:
        with torch.no_grad():
            torch._foreach_copy_(params, ema)
    return model
