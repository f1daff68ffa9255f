"""The mini text-to-image experiment: joint Nystrom bundles over image-caption pairs, the flow-matching
teacher and the one-step student post-trained by the joint (or marginal) iRDM objective (SPEC 1.4, 4.2).

Joint law: Phi(x, c) = [phi(x) | beta * tau(c)] under one Gaussian kernel of the cold bandwidth
sigma = sigma_scale x median(phi) (0.25: "cold"), with beta = sigma / s_txt, so the kernel factorises into
k_img(sigma) * k_txt(s_txt); s_txt = text_scale x the median pairwise distance of the train captions' tau.
The marginal ablation (``joint: false``) matches phi(x) alone under the same sigma.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import Tensor

from ..compare.kernels import median_sigma
from ..compare.mmd import NystromBundle, irdm_loss
from ..generators.flow import VelocityNet
from ..generators.t2i import SHAPE, OneStepStudent, caption_net, load_t2i, save_t2i
from ..reference.build import reference_config, text_pair_bundles
from ..representation.joint import joint_features
from .balance import UniformWeights
from .experiment import LOOP_KEYS, config_section, run_loop, seeded
from .flow import train_flow
from .loop import battery_loss_fn, rollout_generator

JOINT_KEYS = ("sigma_scale", "text_scale")
TEACHER_KEYS = LOOP_KEYS + ("batch", "width", "time_grid", "predicts")
STUDENT_KEYS = LOOP_KEYS + ("rollout", "chunk", "snapshot_every")

Log = Callable[[str], None]


def text_bundles(train_feats: Mapping[str, Tensor], tau: Tensor, joint: bool, joint_cfg: Mapping,
                 reference_cfg: Mapping, seed: int = 0) -> dict:
    """Nystrom bundles of the real train pairs per encoder: over [phi | beta * tau] (``joint``) or phi alone.

    Returns ``{"bundles", "sigma", "beta"}`` keyed by encoder (beta = 0 for the marginal law) and ``s_txt``.
    """
    joint_cfg = config_section(joint_cfg, JOINT_KEYS, "t2i joint reference")
    ref = reference_config(reference_cfg)
    s_txt = joint_cfg["text_scale"] * median_sigma(tau, n_sub=ref["sigma_n"], seed=seed)
    out = text_pair_bundles(train_feats, tau, joint, joint_cfg["sigma_scale"], s_txt, ref["landmarks"], ref, seed)
    return {**out, "s_txt": s_txt}


def train_teacher(images: Tensor, tau: Tensor, cfg: Mapping, workdir: str | os.PathLike,
                  log: Log | None = None) -> VelocityNet:
    """Flow matching of the caption-conditional velocity net on compositions [N, 3, 32, 32] and their tau rows.

    ``cfg``: steps, batch, lr, grad_clip, checkpoint_every, seed, width, time_grid (:func:`.flow.train_flow`:
    4 trains on the times of the 4-step sampler), predicts (velocity or data: :class:`CaptionVelocityNet`),
    optionally ema (the decay of the returned weight average). The net standardises tau with the
    statistics of ``tau``. Resumes from ``workdir``."""
    cfg = config_section(cfg, TEACHER_KEYS, "t2i teacher")
    net = seeded(lambda: caption_net(tau.shape[1], cfg["width"], predicts=cfg["predicts"]), cfg["seed"])
    net.cond.fit(tau)
    return train_flow(images, tau, cfg, workdir, log, model=net)


class CaptionRollout:
    """Step k's rollout: N prompts drawn uniformly from the prompt pool's tau rows and image-shaped noise,
    both from ``rollout_generator(seed, k)``, in chunks; keeps the rollout's tau for the joint feature."""

    def __init__(self, student: OneStepStudent, pool: Tensor, n: int, chunk: int, seed: int):
        if n < 1 or chunk < 1 or n % chunk:
            raise ValueError(f"the rollout N={n} must be a positive multiple of the chunk {chunk}")
        self.student, self.pool, self.n, self.chunk, self.seed = student, pool, n, chunk, seed
        self.tau: Tensor | None = None

    def __call__(self, step: int) -> list[tuple[Tensor, Tensor]]:
        gen = rollout_generator(self.seed, step)
        self.tau = self.pool[torch.randint(0, len(self.pool), (self.n,), generator=gen)]
        z = torch.randn(self.n, *SHAPE, generator=gen)
        return list(zip(z.split(self.chunk), self.tau.split(self.chunk)))

    def generate(self, chunk: tuple[Tensor, Tensor]) -> Tensor:
        return self.student(*chunk)


def snapshot_steps(steps: int, every: int) -> list[int]:
    """The steps whose weights are kept for the curve: 0 (the untrained one-step init), every ``every``, the last."""
    return sorted({0, *range(every, steps + 1, every), steps})


def step_seconds(workdir: str | os.PathLike) -> dict[int, float]:
    """Cumulative training seconds (one thread) after each step, from the loop's metrics.jsonl."""
    total, out = 0.0, {0: 0.0}
    for line in (Path(workdir) / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        total += record["seconds"]
        out[record["step"]] = total
    return out


def train_student(teacher: VelocityNet, encoders: Mapping[str, Callable[[Tensor], Tensor]],
                  bundles: Mapping[str, NystromBundle], betas: Mapping[str, float], prompt_pool: Tensor,
                  cfg: Mapping, workdir: str | os.PathLike, made_by: Mapping, log: Log | None = None
                  ) -> tuple[VelocityNet, dict[int, Path]]:
    """Post-train the one-step student (initialised from ``teacher``) with the iRDM loss per encoder on
    [phi(g) | beta * tau(c)] (beta 0: marginal), self-normalised, uniform weights, GradCache over chunks.

    ``cfg``: steps, lr, grad_clip, checkpoint_every, seed, rollout, chunk, snapshot_every. The run is split
    at :func:`snapshot_steps`; after each, the net is saved to ``workdir/snapshots/step_<k>.safetensors``
    with the step and the cumulative step time (``compute_seconds``, one thread). Each segment resumes from
    the previous one's final checkpoint (same seeds per step), so the split run equals one run; a killed
    job resumes from its latest checkpoint and keeps the snapshots already written. Returns the final net
    and the snapshot paths by step.
    """
    cfg = config_section(cfg, STUDENT_KEYS, "t2i student")
    workdir = Path(workdir)
    student = OneStepStudent(teacher).train()
    rollout = CaptionRollout(student, prompt_pool, cfg["rollout"], cfg["chunk"], cfg["seed"])

    def pair_loss(g: Tensor, ref: tuple[NystromBundle, float]) -> Tensor:
        bundle, beta = ref
        return irdm_loss(joint_features(g, rollout.tau, beta) if beta else g, bundle)

    controller = UniformWeights(list(encoders))
    battery = battery_loss_fn({n: (bundles[n], betas[n]) for n in encoders}, pair_loss, controller)
    snapshots = {}
    for step in snapshot_steps(cfg["steps"], cfg["snapshot_every"]):
        path = snapshots[step] = workdir / "snapshots" / f"step_{step:06d}.safetensors"
        if path.exists():
            continue
        if step:
            run_loop(student, rollout, rollout.generate, encoders, battery, controller, {**cfg, "steps": step},
                     workdir, log)
        seconds = step_seconds(workdir)[step] if step else 0.0
        save_t2i(path, student.net, {**made_by, "step": step, "compute_seconds": seconds})
    final, _ = load_t2i(snapshots[cfg["steps"]])
    return final, snapshots
