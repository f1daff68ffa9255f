"""The geALLcoco reference of the paper text-to-image stage (docs/flux_geall_assets.md of the official code):
4-step teacher renders of the GenEval prompts and the COCO captions, curated into [GenEval-correct renders (at
most ``cap`` per prompt) | the ``keep`` renders of highest PickScore of each COCO caption]. Each render stage runs
as ``shards`` jobs, shard k over a contiguous slice of the rows (:func:`shard_rows`), a row's noise the same
whatever the shard count."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import Tensor

RENDER_SEED_STRIDE = 1_000_003  # rdm/data/flux_gen_driver.py: render (row, seed) draws seed * 1,000,003 + row


def render_seed(row: int, seed: int) -> int:
    """Noise seed of the teacher render ``seed`` of prompt ``row`` (the official render driver's)."""
    return int(seed) * RENDER_SEED_STRIDE + int(row)


def shard_rows(n: int, shards: int, shard: int) -> range:
    """Rows of shard ``shard`` of ``shards`` over ``n`` rows: contiguous, in order, sizes differing by at most one;
    the shards tile range(n)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} of {shards}: out of 0..{shards - 1}")
    return range(shard * n // shards, (shard + 1) * n // shards)


def row_shards(n: int, shards: int) -> list[int]:
    """The shard of each of ``n`` rows (:func:`shard_rows`)."""
    return [k for k in range(shards) for _ in shard_rows(n, shards, k)]


def geneval_kept(records: Iterable[Mapping], n_prompts: int, cap: int) -> list[tuple[int, int]]:
    """(prompt, sample) of the GenEval-correct renders, at most ``cap`` per prompt (its lowest samples), in prompt
    then sample order. ``records``: the scorer's per-image results (``filename`` .../<prompt>/samples/<sample>.png)."""
    correct: dict[int, list[int]] = {}
    for r in records:
        path = Path(r["filename"])
        prompt, sample = int(path.parent.parent.name), int(path.stem)
        if not 0 <= prompt < n_prompts:
            raise ValueError(f"GenEval result {r['filename']!r}: prompt {prompt} out of 0..{n_prompts - 1}")
        if r["correct"] is True:
            correct.setdefault(prompt, []).append(sample)
    return [(i, j) for i in sorted(correct) for j in sorted(correct[i])[:cap]]


def top_seeds(scores: Tensor, keep: int) -> Tensor:
    """[n, keep] seeds of the ``keep`` highest scores of each row of ``scores`` [n, seeds], best first (a tie goes
    to the lower seed)."""
    if not 0 < keep <= scores.shape[1]:
        raise ValueError(f"keep {keep} of {scores.shape[1]} renders per prompt")
    order = torch.sort(-scores.double(), dim=1, stable=True).indices
    return order[:, :keep]
