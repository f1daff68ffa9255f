"""Battery balancing: per-encoder self-normalisation and the proportional Lagrangian controller (SPEC 1.5)."""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import torch


def self_normalise(L: torch.Tensor) -> torch.Tensor:
    """L / (|L| + 1e-7) with the denominator detached: the gradient of log|L|, sign kept if L dips below 0."""
    return L / (L.detach().abs() + 1e-7)


def _check_scores(names: Sequence[str], raw_scores: Mapping[str, float]) -> dict[str, float]:
    if set(raw_scores) != set(names):
        raise KeyError(f"raw scores are for encoders {sorted(raw_scores)}, "
                       f"the controller balances {sorted(names)}")
    return {n: float(raw_scores[n]) for n in names}


class PIDLagrangian:
    """Proportional Lagrangian controller: each encoder must bring its live score down to its floor.

    The live score is an EMA of the raw loss; the error e = clip(kp * (score - floor), +-clip). Satisfied
    encoders (e <= 0) get weight 0; violators share ``budget`` through softmax(e / T) with the adaptive
    temperature T = temperature_scale * mean(e over violators), so a positive kp only moves where the
    clip binds. Initial weights are 1.0; ``update`` returns the weights for the next step.

    ``update`` runs on every step, a skipped one too, as the official controller does. An encoder whose raw
    score is non-finite keeps its live score (weight 0 until it has one): the official one folds the NaN into
    its EMA, which zeroes that encoder's weight for the rest of the run.
    """

    def __init__(self, names: Sequence[str], floors: Mapping[str, float], budget: float = 10.0, kp: float = 1.0,
                 ema: float = 0.5, clip: float = 5.0, temperature_scale: float = 2.0):
        missing = [n for n in names if n not in floors]
        if missing:
            raise KeyError(f"no floor for encoders {missing}")
        if not (budget > 0 and kp > 0 and clip > 0 and temperature_scale > 0 and 0 <= ema < 1):
            raise ValueError("need budget, kp, clip, temperature_scale > 0 and 0 <= ema < 1")
        self.names = list(names)
        self.floors = {n: float(floors[n]) for n in self.names}
        self.budget, self.kp, self.ema = budget, kp, ema
        self.clip, self.temperature_scale = clip, temperature_scale
        self.scores: dict[str, float] = {}
        self.weights = {n: 1.0 for n in self.names}

    def errors(self) -> dict[str, float]:
        """Clipped errors of the live scores against the floors (encoders that have a score)."""
        return {n: min(max(self.kp * (s - self.floors[n]), -self.clip), self.clip) for n, s in self.scores.items()}

    def update(self, raw_scores: Mapping[str, float]) -> dict[str, float]:
        raw = _check_scores(self.names, raw_scores)
        for n in self.names:
            if math.isfinite(raw[n]):
                old = self.scores.get(n)
                self.scores[n] = raw[n] if old is None else self.ema * old + (1 - self.ema) * raw[n]
        err = self.errors()
        violators = [n for n in self.names if err.get(n, 0.0) > 0]
        self.weights = {n: 0.0 for n in self.names}
        if violators:
            temperature = self.temperature_scale * sum(err[n] for n in violators) / len(violators)
            logits = torch.tensor([err[n] / temperature for n in violators], dtype=torch.float64)
            for n, p in zip(violators, torch.softmax(logits, 0).tolist()):
                self.weights[n] = self.budget * p
        return dict(self.weights)

    def state_dict(self) -> dict:
        return {"names": list(self.names), "scores": dict(self.scores),
                "weights": dict(self.weights)}

    def load_state_dict(self, state: Mapping) -> None:
        if list(state["names"]) != self.names:
            raise ValueError(f"controller state is for encoders {state['names']}, not {self.names}")
        self.scores = dict(state["scores"] or {})
        self.weights = dict(state["weights"])


class UniformWeights:
    """The uniform control (``pid_enable: false``): static weights of 1.0, same interface as PIDLagrangian."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        self.weights = {n: 1.0 for n in self.names}

    def update(self, raw_scores: Mapping[str, float]) -> dict[str, float]:
        _check_scores(self.names, raw_scores)
        return dict(self.weights)

    def state_dict(self) -> dict:
        return {"names": list(self.names)}

    def load_state_dict(self, state: Mapping) -> None:
        if list(state["names"]) != self.names:
            raise ValueError(f"controller state is for encoders {state['names']}, not {self.names}")
