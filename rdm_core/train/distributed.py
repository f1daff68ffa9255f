"""Data parallel for GradCache without a DDP wrapper (one job, ``torchrun`` inside it).

Rank r renders its own block of the rollout's chunks; inside the battery loss the features are
all-gathered with their gradients (:func:`gather_rows`), so every rank computes the same full-rollout
loss, including the within-rollout repulsion that couples all samples; the parameter gradients are then
averaged (:func:`average_grads`): the all-gather's backward sums the world's identical feature gradients,
so the average is the exact full-rollout gradient. Only rank 0 writes metrics and checkpoints.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
import torch.distributed as dist
from torch import Tensor


def initialised() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env() -> tuple[int, int, torch.device]:
    """(rank, world, device) of this process; joins the process group when launched by ``torchrun``
    (nccl on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def rank_block(items: Sequence, rank: int, world: int) -> list:
    """The ``rank``-th of ``world`` equal contiguous blocks of ``items``."""
    if len(items) % world:
        raise ValueError(f"{len(items)} chunks do not split evenly over {world} ranks")
    per = len(items) // world
    return list(items[rank * per:(rank + 1) * per])


def gather_rows(x: Tensor) -> Tensor:
    """Rows of every rank, in rank order, with gradients flowing back to each rank's own rows."""
    if not initialised():
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x.contiguous()))


def average_grads(params: Sequence[Tensor]) -> None:
    """All-reduce mean of the parameter gradients over the ranks."""
    if not initialised():
        return
    world = dist.get_world_size()
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)  # gloo has no AVG
        p.grad /= world


def slowest(seconds: float) -> float:
    """The largest of the ranks' ``seconds`` (itself on one process), so every rank sees the same clock."""
    if not initialised():
        return seconds
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    t = torch.tensor(seconds, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()
