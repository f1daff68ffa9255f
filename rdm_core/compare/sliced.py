"""Sliced Wasserstein: the training loss and the SW_2 evaluation against a cached sorted bank (SPEC 2.2)."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor


def random_directions(d: int, n: int, generator: torch.Generator,
                      dtype: torch.dtype = torch.float32) -> Tensor:
    """``n`` random unit directions ``[n, d]``, drawn as the columns of a ``[d, n]`` Gaussian matrix on the
    generator's device (the official code's stream, so seeded directions equal its directions)."""
    theta = torch.randn(d, n, generator=generator, dtype=dtype, device=generator.device).T
    return theta / theta.norm(dim=1, keepdim=True)


def sw_directions(d: int, n_proj: int = 1024, seed: int = 0, chunk: int = 64,
                  device: str | torch.device = "cpu") -> Tensor:
    """The evaluation directions: drawn ``chunk`` at a time from one generator on ``device`` seeded with
    ``seed``, so every encoder, checkpoint and floor of the same width ``d`` gets the same directions."""
    gen = torch.Generator(device=device).manual_seed(seed)
    return torch.cat([random_directions(d, min(chunk, n_proj - s), gen) for s in range(0, n_proj, chunk)])


def _sort_rows_(a: Tensor) -> None:
    """Sort the rows of a CPU float tensor in place with numpy's SIMD sort (several times faster than
    ``torch.sort`` there, same values); rows are split over threads, numpy releases the GIL."""
    n_parts = max(1, min(torch.get_num_threads(), a.shape[0]))
    if n_parts == 1:
        a.numpy().sort(axis=1)
        return
    with ThreadPoolExecutor(n_parts) as pool:
        list(pool.map(lambda part: part.sort(axis=1), np.array_split(a.numpy(), n_parts)))


def _sorted_projections(x: Tensor, theta: Tensor) -> Tensor:
    """``[P, N]``: each row holds the sorted projections of ``x`` on one direction.

    On CPU, numpy sorts: in place without grad, else through its argsort and a gather, which is
    ``torch.sort``'s gradient exactly (sorting is a permutation)."""
    proj = theta @ x.T
    if proj.device.type != "cpu" or proj.dtype not in (torch.float32, torch.float64):
        return torch.sort(proj, dim=1).values
    if torch.is_grad_enabled() and proj.requires_grad:
        return proj.gather(1, torch.from_numpy(np.argsort(proj.detach().numpy(), axis=1)))
    _sort_rows_(proj)
    return proj


def sw_loss(x: Tensor, y: Tensor, n_proj: int, generator: torch.Generator) -> Tensor:
    """Training SW loss on fresh directions: mean squared difference of the sorted projections."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"sw_loss needs equal set sizes, got {x.shape[0]} and {y.shape[0]}")
    theta = random_directions(x.shape[1], n_proj, generator, dtype=x.dtype).to(x.device)
    return (_sorted_projections(x, theta) - _sorted_projections(y, theta)).square().mean()


@dataclass
class SortedBank:
    """Sorted projections ``[P, N]`` of a reference set on the directions ``theta [P, d]``."""

    theta: Tensor
    sorted_proj: Tensor

    @classmethod
    def build(cls, y: Tensor, n_proj: int = 1024, seed: int = 0, chunk: int = 64) -> "SortedBank":
        theta = sw_directions(y.shape[1], n_proj, seed, chunk, device=y.device).to(y.dtype)
        return cls(theta=theta, sorted_proj=_sorted_projections(y.detach(), theta))

    @property
    def n(self) -> int:
        return self.sorted_proj.shape[1]

    def score(self, x: Tensor, block: int = 256) -> float:
        """SW_2 of the first ``n`` rows of ``x`` against the bank; only ``x`` is projected and sorted."""
        if x.shape[0] < self.n:
            raise ValueError(f"scoring needs at least the bank's {self.n} rows, got {x.shape[0]}; "
                             "build the bank from as many rows as will be scored")
        x = x[:self.n].detach()
        theta = self.theta.to(x)
        total = 0.0
        for s in range(0, theta.shape[0], block):
            diff = _sorted_projections(x, theta[s:s + block]).sub_(self.sorted_proj[s:s + block].to(x))
            total += float(diff.square_().sum())  # torch's cascade sum: fp32 is accurate here
        return math.sqrt(total / (theta.shape[0] * self.n))

    def to_tensors(self) -> dict[str, Tensor]:
        return {"theta": self.theta.contiguous(), "sorted_proj": self.sorted_proj.contiguous()}

    @classmethod
    def from_tensors(cls, d: dict[str, Tensor]) -> "SortedBank":
        return cls(theta=d["theta"], sorted_proj=d["sorted_proj"])


def sw2(x: Tensor, bank_or_y: SortedBank | Tensor, n_proj: int = 1024, seed: int = 0, chunk: int = 64) -> float:
    """Evaluation ``SW_2 = sqrt(mean_k mean_j |sort(theta_k x)_j - sort(theta_k y)_j|^2)``.

    Both sets are truncated to their common size (first rows). A cached :class:`SortedBank` brings
    its own directions (``n_proj``, ``seed``, ``chunk`` then unused).
    """
    if isinstance(bank_or_y, SortedBank):
        return bank_or_y.score(x)
    n = min(x.shape[0], bank_or_y.shape[0])
    return SortedBank.build(bank_or_y[:n], n_proj, seed, chunk).score(x[:n])
