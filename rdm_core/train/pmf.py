"""iRDM post-training of pMF-H on ImageNet-256 (SPEC 4.1): the paper-scale class-conditional experiment.

Each step draws a fresh rollout of N class labels (uniform) with one noise seed per chunk, renders it with
the one-step pMF-H, encodes it with every trained-against encoder (under the ``battery.precision`` policy its
reference features were made under, :mod:`rdm_core.representation.precision`) and takes the iRDM loss against that
encoder's frozen marginal Nystrom bundle (the ``reference`` rule's), self-normalised and weighted by the
PID-Lagrangian controller (floors from the reference) or uniformly. GradCache over the rollout, data parallel over
``torchrun`` ranks (:mod:`rdm_core.train.distributed`), AdamW (0.9, 0.95), constant lr, clip, checkpoints every
``checkpoint_every`` steps, all through the generic loop :func:`rdm_core.train.train`.

``python -m rdm_core.train.pmf RUN.json`` is what the ``irdm_arm`` rule launches under ``torchrun``;
RUN.json holds the paths and settings (see :func:`main`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import Tensor

from ..compare.mmd import NystromBundle, irdm_loss
from ..generators.pmf import OneStepPMF, load_configured_pmf
from ..io import read_json, save_tensors, write_json
from .balance import PIDLagrangian, UniformWeights
from .checkpoint import Checkpointer
from .distributed import average_grads, gather_rows, init_from_env, rank_block
from .experiment import LOOP_KEYS, config_section
from .loop import battery_loss_fn, loop_config, rollout_generator, train

PMF_KEYS = LOOP_KEYS + ("rollout", "chunk", "pid", "n_classes")


class LabelRollout:
    """Step k's rollout: N uniform class labels and one noise seed per chunk, both from
    ``rollout_generator(seed, k)``; this rank gets its contiguous block of the chunks."""

    def __init__(self, generator: OneStepPMF, n: int, chunk: int, seed: int, n_classes: int,
                 device: str | torch.device = "cpu", rank: int = 0, world: int = 1):
        if n < 1 or chunk < 1 or n % (chunk * world):
            raise ValueError(f"the rollout N={n} must be a positive multiple of chunk x ranks = {chunk} x {world}")
        self.generator, self.n, self.chunk, self.seed, self.n_classes = generator, n, chunk, seed, n_classes
        self.device, self.rank, self.world = device, rank, world

    def __call__(self, step: int) -> list[tuple[Tensor, int]]:
        gen = rollout_generator(self.seed, step)
        labels = torch.randint(self.n_classes, (self.n,), generator=gen)
        seeds = torch.randint(2 ** 62, (self.n // self.chunk,), generator=gen).tolist()
        chunks = [(labels[i * self.chunk:(i + 1) * self.chunk], s) for i, s in enumerate(seeds)]
        return rank_block(chunks, self.rank, self.world)

    def generate(self, chunk: tuple[Tensor, int]) -> Tensor:
        labels, seed = chunk
        z = self.generator.noise(len(labels), torch.Generator().manual_seed(seed))
        return self.generator(z.to(self.device), labels.to(self.device))


def train_pmf(generator: OneStepPMF, encoders: Mapping[str, Callable[[Tensor], Tensor]],
              bundles: Mapping[str, NystromBundle], floors: Mapping[str, float] | None, cfg: Mapping,
              workdir: str | Path, device: str | torch.device = "cpu", rank: int = 0, world: int = 1,
              log: Callable[[str], None] | None = None) -> OneStepPMF:
    """Post-train ``generator`` against ``bundles`` for ``cfg.steps`` steps, resuming from ``workdir``.

    ``cfg``: steps, lr, grad_clip, checkpoint_every, seed, rollout (N, over all ranks), chunk (per-rank
    micro-batch), pid (floors required), n_classes, optionally loss_chunk, grad_scale and seconds
    (:func:`~rdm_core.train.loop.loop_config`).
    """
    cfg = config_section(cfg, PMF_KEYS, "pMF-H iRDM")
    names = list(encoders)
    missing = [n for n in names if n not in bundles]
    if missing:
        raise KeyError(f"no Nystrom bundle for encoders {missing}")
    if cfg["pid"] and floors is None:
        raise ValueError("the PID controller needs the encoders' Nystrom floors")
    controller = PIDLagrangian(names, floors) if cfg["pid"] else UniformWeights(names)
    rollout = LabelRollout(generator, cfg["rollout"], cfg["chunk"], cfg["seed"], cfg["n_classes"], device,
                           rank, world)

    def loss(g: Tensor, bundle: NystromBundle) -> Tensor:
        return irdm_loss(gather_rows(g), bundle, chunk=cfg.get("loss_chunk"))

    battery = battery_loss_fn({n: bundles[n].to(device) for n in names}, loss, controller)
    loop = loop_config(cfg)
    return train(generator, rollout, rollout.generate, encoders, battery, controller, loop, workdir,
                 **({} if log is None else {"log": log}), reduce_grads=average_grads, writer=rank == 0)


def save_pmf(path: str | Path, generator: OneStepPMF, made_by: Mapping) -> None:
    """The MiT state dict as safetensors, with its configuration and what made it (atomic)."""
    state = {k: v.detach().cpu().contiguous() for k, v in generator.net.state_dict().items()}
    save_tensors(path, state, {"architecture": {"kind": "pmf", **vars(generator.net.cfg)},
                               "guidance": vars(generator.guidance), "made_by": dict(made_by)})


def main(argv: list[str] | None = None) -> None:
    """Run one arm from RUN.json: {"base", "mit", "guidance", "precision", "trusted", "encoders", "scale_dir", "weights_dir",
    "encoder_precision", "cfg", "workdir", "weights", "done", "made_by"} (written by the ``irdm_arm`` rule's script)."""
    from ..reference.build import load_reference
    from ..reference.banks import reference_dir
    from ..reference.cache import load_battery_encoder

    run = read_json((argv or sys.argv[1:])[0])
    rank, world, device = init_from_env()
    log = print if rank == 0 else (lambda msg: None)
    generator = load_configured_pmf(run["base"], run).to(device).train()
    refs = {n: load_reference(reference_dir(run["scale_dir"], n)) for n in run["encoders"]}
    encoders = {n: load_battery_encoder(n, run["scale_dir"], run["weights_dir"], run["encoder_precision"])[0].to(device)
                for n in run["encoders"]}
    train_pmf(generator, encoders, {n: r["bundle"] for n, r in refs.items()},
              {n: r["nystrom_floor"] for n, r in refs.items()}, run["cfg"], run["workdir"], device, rank, world, log)
    if rank == 0:
        save_pmf(run["weights"], generator, run["made_by"])
        steps = Checkpointer(run["workdir"], 1).steps()[-1]  # fewer than cfg.steps where the clock budget ran out
        write_json(run["done"], {**run["made_by"], "steps": steps, "ranks": world})


if __name__ == "__main__":
    main()
