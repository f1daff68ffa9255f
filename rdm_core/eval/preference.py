"""Matched-pair preference win rates (the mini analogue of the paper's PickScore head-to-heads, Fig. 6).

Pairs are matched by index: sample i of both sets was asked for the same class (and, for two generators of
one kind, drawn from the same noise). A pair is won by the higher score; ties count one half.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from torch import Tensor


def win_rate(scores_a: Tensor, scores_b: Tensor) -> dict:
    """Share of matched pairs where ``a`` scores higher (ties 1/2), with its binomial standard error."""
    if scores_a.shape != scores_b.shape or scores_a.ndim != 1 or len(scores_a) == 0:
        raise ValueError(f"matched pairs need two equal 1-D score vectors, got {tuple(scores_a.shape)} and "
                         f"{tuple(scores_b.shape)}")
    wins = (scores_a > scores_b).double() + 0.5 * (scores_a == scores_b).double()
    rate = float(wins.mean())
    n = len(wins)
    return {"win_rate": rate, "stderr": math.sqrt(max(rate * (1 - rate), 1e-12) / n), "pairs": n,
            "ties": int((scores_a == scores_b).sum()), "mean_score_a": float(scores_a.mean()),
            "mean_score_b": float(scores_b.mean())}


def head_to_heads(scores: Mapping[str, Tensor], pairs: Sequence[tuple[str, str]]) -> list[dict]:
    """One record per (player, opponent) pair: its win rate for the player."""
    return [{"player": a, "opponent": b, **win_rate(scores[a], scores[b])} for a, b in pairs]
