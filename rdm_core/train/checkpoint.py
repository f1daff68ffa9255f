"""Periodic atomic checkpoints and the global RNG states they carry, so a killed run resumes exactly."""

from __future__ import annotations

import os
import random
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rdm_core.io import atomic_path

_NAME = re.compile(r"^ckpt_(\d+)\.pt$")


def capture_rng() -> dict[str, Any]:
    """The global torch (CPU and CUDA), python and numpy RNG states, in types ``torch.load`` loads safely."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
    random.setstate(state["python"])
    npy = state["numpy"]
    np.random.set_state(("MT19937", npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached"]))


class Checkpointer:
    """``workdir/ckpt_<step>.pt`` every ``every`` steps; writes are atomic, the latest ``keep`` stay."""

    def __init__(self, workdir: str | os.PathLike, every: int, keep: int = 2):
        if every < 1 or keep < 1:
            raise ValueError("checkpoint 'every' and 'keep' must be >= 1")
        self.workdir = Path(workdir)
        self.every, self.keep = every, keep
        self.workdir.mkdir(parents=True, exist_ok=True)
        for stale in self.workdir.glob(".ckpt_*.tmp"):  # left by a run killed while writing
            stale.unlink()

    def path(self, step: int) -> Path:
        return self.workdir / f"ckpt_{step:08d}.pt"

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def steps(self) -> list[int]:
        """Steps of the checkpoints on disk, oldest first."""
        return sorted(int(m.group(1)) for p in self.workdir.iterdir() if (m := _NAME.match(p.name)))

    def save(self, step: int, state: dict) -> Path:
        path = self.path(step)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
        for old in self.steps()[:-self.keep]:
            self.path(old).unlink()
        return path

    def latest(self) -> tuple[int, dict] | None:
        """(step, state) of the newest readable checkpoint; an unreadable one is warned about and passed over."""
        for step in reversed(self.steps()):
            try:
                return step, torch.load(self.path(step), map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001 - any unreadable file falls back to the previous one
                warnings.warn(f"checkpoint {self.path(step)} is unreadable ({err}); trying an older one")
        return None
