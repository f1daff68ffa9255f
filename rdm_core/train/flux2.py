"""FLUX.2 [klein] post-training, 4 steps -> 1 step, with the joint iRDM objective (SPEC 1.3, 1.4, 1.6, 4.2).

Each step draws a fresh rollout of N prompts (uniform over the prompt pool) with one noise seed per sample,
renders it with the one-step student, encodes it with every trained-against encoder and compares the
joint feature [phi(x) | beta * tau(c)] (tau = the prompt's SigLIP2 text embedding, beta = sigma / s_txt)
with the frozen joint Nystrom bundle of real COCO pairs (``joint: false``: the image features alone against
the image-only bundle, the marginal ablation). Encoders are self-normalised and weighted uniformly;
AdamW (0.9, 0.95), wd 0, constant lr, clip, GradCache over the rollout, checkpoints every
``checkpoint_every`` steps (the generic loop :func:`rdm_core.train.train`).

Data parallel without a DDP wrapper (:mod:`rdm_core.train.distributed`): rank r renders the r-th contiguous
block of chunks, the features are all-gathered with their gradients, every rank computes the same
full-rollout loss, the parameter gradients are averaged; only rank 0 writes metrics and checkpoints.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

import torch
import torch.distributed as dist
from torch import Tensor

from ..compare.mmd import NystromBundle, irdm_loss
from ..generators.flux2 import Flux2Generator, sample_noise
from ..reference.build import text_pair_bundles
from ..representation.joint import joint_features
from .balance import UniformWeights
from .distributed import average_grads, gather_rows, initialised, rank_block
from .experiment import config_section
from .loop import battery_loss_fn, loop_config, rollout_generator, train

T2I_KEYS = ("steps", "lr", "grad_clip", "checkpoint_every", "seed", "rollout", "chunk", "joint", "s_txt")
REFERENCE_KEYS = ("sigma_scale", "s_txt", "landmarks")


def text_joint_bundles(image_feats: Mapping[str, Tensor], text_feats: Tensor, joint: bool, cfg: Mapping,
                       reference_cfg: Mapping, seed: int = 0) -> dict:
    """Joint (or, ``joint`` False, image-only) Nystrom bundles of real image-caption pairs, per encoder.

    sigma = ``sigma_scale`` (0.25, "cold") x the median heuristic of the image features; the joint feature
    is [phi | beta * tau] with beta = sigma / ``s_txt``, so the kernel factorises into k_img(sigma) and
    k_txt(s_txt). ``landmarks`` (M) overrides the reference section's. Returns {"bundles", "sigma",
    "beta", "floors" (empty: uniform weights need none), "cross_class_factor" (None)}.
    """
    cfg = config_section(cfg, REFERENCE_KEYS, "text-to-image reference")
    out = text_pair_bundles(image_feats, text_feats, joint, cfg["sigma_scale"], cfg["s_txt"], cfg["landmarks"],
                            reference_cfg, seed)
    return {**out, "floors": {}, "cross_class_factor": None}


class PromptRollout:
    """Step k's rollout: N prompt indices drawn uniformly from the pool and one noise seed per sample, both
    from ``rollout_generator(seed, k)``; rank r gets the r-th contiguous block of the chunks. Keeps the
    full rollout's text embeddings tau (rows in rollout order) for the joint feature. ``pool`` lists the
    prompt of each pool row (a prompt may fill several rows); default: one row per prompt."""

    def __init__(self, generator: Flux2Generator, contexts: Callable[[Tensor], Tensor], text: Tensor, n: int,
                 chunk: int, seed: int, noise_shape: tuple[int, int, int], device, rank: int = 0, world: int = 1,
                 pool: Tensor | None = None):
        if n < 1 or chunk < 1 or n % (chunk * world):
            raise ValueError(f"the rollout N={n} must be a positive multiple of chunk x world = {chunk} x {world}")
        self.pool = torch.arange(len(text)) if pool is None else torch.as_tensor(pool, dtype=torch.long)
        self.generator, self.contexts, self.text = generator, contexts, text
        self.n, self.chunk, self.seed, self.noise_shape = n, chunk, seed, noise_shape
        self.device, self.rank, self.world = device, rank, world
        self.code: Tensor | None = None

    def __call__(self, step: int) -> list[tuple[Tensor, int]]:
        gen = rollout_generator(self.seed, step)
        idx = self.pool[torch.randint(len(self.pool), (self.n,), generator=gen)]
        seeds = torch.randint(2 ** 62, (self.n,), generator=gen)
        self.code = self.text[idx].to(self.device)
        chunks = [(idx[c:c + self.chunk], seeds[c:c + self.chunk]) for c in range(0, self.n, self.chunk)]
        return rank_block(chunks, self.rank, self.world)

    def generate(self, chunk: tuple[Tensor, Tensor]) -> Tensor:
        idx, seeds = chunk
        noise = sample_noise(seeds.tolist(), self.noise_shape)
        return self.generator(noise.to(self.device), self.contexts(idx).to(self.device))


def train_flux2(generator: Flux2Generator, encoders: Mapping[str, Callable[[Tensor], Tensor]],
                bundles: Mapping[str, NystromBundle], contexts: Callable[[Tensor], Tensor], text: Tensor,
                cfg: Mapping, workdir: str | os.PathLike, noise_shape: tuple[int, int, int],
                device: str | torch.device = "cpu", log: Callable[[str], None] | None = None,
                pool: Tensor | None = None):
    """Post-train ``generator``'s transformer for ``cfg.steps`` steps (resuming from ``workdir``).

    ``contexts(idx)`` gives the contexts [n, L, D] of prompts ``idx``; ``text`` [P, d] their tau; ``pool`` the
    prompt of each row of the prompt pool (sampled uniformly; default one row per prompt).
    ``cfg``: steps, lr, grad_clip, checkpoint_every, seed, rollout (N), chunk (per-rank micro-batch),
    joint (bool), s_txt, optionally loss_chunk, grad_scale and seconds (:func:`~rdm_core.train.loop.loop_config`).
    Runs data parallel when torch.distributed is initialised.
    """
    cfg = config_section(cfg, T2I_KEYS, "FLUX.2 post-training")
    rank, world = (dist.get_rank(), dist.get_world_size()) if initialised() else (0, 1)
    names = list(encoders)
    missing = [n for n in names if n not in bundles]
    if missing:
        raise KeyError(f"no bundle for encoders {missing}")
    rollout = PromptRollout(generator, contexts, text, cfg["rollout"], cfg["chunk"], cfg["seed"], noise_shape,
                            device, rank, world, pool)
    controller = UniformWeights(names)

    def loss(g: Tensor, bundle: NystromBundle) -> Tensor:
        g = gather_rows(g)
        feats = joint_features(g, rollout.code, bundle.sigma / cfg["s_txt"]) if cfg["joint"] else g
        if feats.shape[1] != bundle.Z.shape[1]:
            raise ValueError(f"features have {feats.shape[1]} columns, the bundle's landmarks {bundle.Z.shape[1]}: "
                             f"pass the {'joint' if cfg['joint'] else 'marginal'} bundles")
        return irdm_loss(feats, bundle, chunk=cfg.get("loss_chunk"))

    battery = battery_loss_fn({n: bundles[n] for n in names}, loss, controller)
    loop = loop_config(cfg)
    return train(generator.transformer, rollout, rollout.generate, encoders, battery, controller, loop, workdir,
                 **({} if log is None else {"log": log}), reduce_grads=average_grads, writer=rank == 0)


def bundle_to(bundle: NystromBundle, device) -> NystromBundle:
    """The bundle with its landmarks and weights on ``device``."""
    return NystromBundle(Z=bundle.Z.to(device), alpha=bundle.alpha.to(device), sigma=bundle.sigma, k_rr=bundle.k_rr)
