"""Evaluation banks of one encoder and the on-disk layout of a reference directory (SPEC 2.2, 2.3).

The SW bank holds equal-size random train and val subsets, the sorted projections of the train subset
on the shared directions (seed 0, 1024 projections) and its floor SW_2(val, train). The RFF bank holds
the random Fourier map (seed 99999, the encoder's median bandwidth), the mean RFF embedding ``mu_r`` of
the first train rows and its floor, the RFF-MMD^2 of as many first val rows. Nothing here touches the
training loss, so the evaluation can load banks without importing it.

A reference directory ``<scale_dir>/reference/<encoder>/`` holds ``nystrom.safetensors`` (the training
bundle and floor), ``sw_bank.safetensors``, ``rff_bank.safetensors`` and ``floors.json``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..compare.rff import RFFMap
from ..compare.sliced import SortedBank
from ..io import load_tensors, save_tensors

SW_PROJECTIONS = 1024
SW_SEED = 0
RFF_SEED = 99999
FILES = {kind: f"{kind}.safetensors" for kind in ("nystrom", "sw_bank", "rff_bank")}
FLOORS_JSON = "floors.json"
MISSING_HINT = "run `snakemake reference_all` first"


class MissingReferenceError(FileNotFoundError):
    """A reference file that the pipeline has not built yet."""


def reference_dir(scale_dir: str | os.PathLike, encoder: str) -> Path:
    """The reference directory of one encoder at one scale."""
    return Path(scale_dir) / "reference" / encoder


def rff_mmd2(x: Tensor, mu_r: Tensor, rff: RFFMap) -> float:
    """``||mean_i phi_RFF(x_i) - mu_r||^2`` in float64, streamed over rows (a raw value; tables show it x1000)."""
    diff = rff.mean_embedding(x.detach().double()) - mu_r.double()
    return float(diff.square().sum())


@dataclass
class EvalBank:
    """SW and RFF-MMD banks of one encoder, with their real-data floors."""

    sw: SortedBank            # sorted projections of ``sw_train``
    sw_train: Tensor          # [n, d] train subset, rows ``sw_train_idx`` of the train features
    sw_val: Tensor            # [n, d] val subset
    sw_train_idx: Tensor      # int64 [n]: train rows in the bank (draw "fresh" real rows outside it)
    sw_floor: float           # SW_2(sw_val, sw_train)
    rff: RFFMap
    rff_mu: Tensor            # float64 [D] mean RFF embedding of the first train rows
    rff_floor: float          # RFF-MMD^2 of as many first val rows

    @property
    def n(self) -> int:
        return self.sw.n

    def sw_at(self, n: int) -> tuple[SortedBank, float]:
        """The SW bank and floor with train and val subsets truncated to their first ``n`` rows."""
        if n == self.n:
            return self.sw, self.sw_floor
        bank = SortedBank.build(self.sw_train[:n], n_proj=self.sw.theta.shape[0], seed=SW_SEED)
        return bank, bank.score(self.sw_val[:n])


def _subset(n_rows: int, n: int, seed: int, what: str) -> Tensor:
    """``n`` random rows of ``n_rows``, each set from its own generator seeded ``seed`` (as the official banks)."""
    if n > n_rows:
        raise ValueError(f"the evaluation banks need {n} {what} rows, only {n_rows} are available")
    return torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed))[:n]


def build_eval_bank(train: Tensor, val: Tensor, sigma: float, sw_n: int, rff_features: int, rff_n: int,
                    seed: int = 0) -> EvalBank:
    """Build the SW bank from seeded random ``sw_n``-row train and val subsets and the RFF bank from the
    first ``rff_n`` train and val rows, its frequencies drawn on the features' device."""
    if rff_n > min(train.shape[0], val.shape[0]):
        raise ValueError(f"the RFF bank needs {rff_n} train and val rows, got {train.shape[0]} and {val.shape[0]}")
    train_idx = _subset(train.shape[0], sw_n, seed, "train")
    val_idx = _subset(val.shape[0], sw_n, seed, "val")
    sw_train, sw_val = train[train_idx].float(), val[val_idx].float()
    sw = SortedBank.build(sw_train, n_proj=SW_PROJECTIONS, seed=SW_SEED)
    rff = RFFMap.from_seed(train.shape[1], sigma, n_features=rff_features, seed=RFF_SEED, device=train.device)
    mu = rff.mean_embedding(train[:rff_n].double())
    return EvalBank(sw=sw, sw_train=sw_train, sw_val=sw_val, sw_train_idx=train_idx, sw_floor=sw.score(sw_val),
                    rff=rff, rff_mu=mu, rff_floor=rff_mmd2(val[:rff_n], mu, rff))


def save_eval_bank(directory: str | os.PathLike, bank: EvalBank, meta: dict) -> None:
    """Write ``sw_bank.safetensors`` and ``rff_bank.safetensors`` with ``meta`` (plus their kind)."""
    directory = Path(directory)
    sw = {**bank.sw.to_tensors(), "train": bank.sw_train, "val": bank.sw_val, "train_idx": bank.sw_train_idx,
          "floor": torch.tensor(bank.sw_floor, dtype=torch.float64)}
    rff = {**bank.rff.to_tensors(), "mu_r": bank.rff_mu, "floor": torch.tensor(bank.rff_floor, dtype=torch.float64)}
    save_tensors(directory / FILES["sw_bank"], sw, {**meta, "kind": "sw_bank", "seed_projections": SW_SEED})
    save_tensors(directory / FILES["rff_bank"], rff, {**meta, "kind": "rff_bank", "seed_rff": RFF_SEED})


def load_file(directory: str | os.PathLike, kind: str, expect: dict | None = None) -> dict[str, Tensor]:
    """Tensors of one reference file (``kind`` a key of FILES), refusing a missing file or one whose
    metadata differs from ``expect``."""
    path = Path(directory) / FILES[kind]
    if not path.is_file():
        raise MissingReferenceError(f"{path} is missing; {MISSING_HINT}")
    return load_tensors(path, {**(expect or {}), "kind": kind})[0]


def load_eval_bank(directory: str | os.PathLike, expect: dict | None = None) -> EvalBank:
    """Load the banks written by :func:`save_eval_bank`; ``expect`` is checked against both files."""
    sw = load_file(directory, "sw_bank", expect)
    rff = load_file(directory, "rff_bank", expect)
    return EvalBank(sw=SortedBank.from_tensors(sw), sw_train=sw["train"], sw_val=sw["val"],
                    sw_train_idx=sw["train_idx"], sw_floor=float(sw["floor"]), rff=RFFMap.from_tensors(rff),
                    rff_mu=rff["mu_r"], rff_floor=float(rff["floor"]))
