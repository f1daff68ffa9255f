"""Noise-aware verdicts: each number a claim compares is read with its run-to-run spread.

A quantity is a :class:`Measured`: its values over the replicate seeds of the run it comes from (the primary
seed first). Its spread is the sample s.d. of those values; a quantity of one seed may borrow the s.d. measured
on replicates of a like run (``borrowed_sd``, shown as ``±~``); one with neither (a published number, a run
without replicates) is exact.

Every comparison of a claim reads ``a <= b + tol``. Its margin is ``mean(b) + tol - mean(a)`` and its standard
error ``se = sqrt(se(a)^2 + se(b)^2)``, ``se = sd / sqrt(n)`` of each side (an exact side adds 0). The comparison
**holds** when ``margin > k * se``, **fails** when ``margin < -k * se`` and is **within noise** otherwise
(``k``: config ``noise_k``); with no spread on either side (se = 0), or ``k`` None (no noise model), the sign of
the margin decides, ties holding. A claim of several comparisons combines them in three-valued (Kleene) logic: :func:`all_of` fails if
any fails and holds only if all hold, :func:`any_of` is its dual, :func:`negate` swaps holds and fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

HOLDS, FAILS, NOISE = "holds", "fails", "within noise"


@dataclass(frozen=True)
class Measured:
    """A quantity over replicate seeds (``values[0]`` from the primary seed)."""
    values: tuple[float, ...]
    borrowed_sd: float | None = None  # the s.d. of a like replicated run, for a quantity of one seed

    def __post_init__(self):
        if not self.values:
            raise ValueError("a measured quantity needs at least one value")

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / self.n

    @property
    def sd(self) -> float | None:
        """Sample s.d. over the seeds (n - 1), else the borrowed s.d., else None (exact)."""
        if self.n < 2:
            return self.borrowed_sd
        m = self.mean
        return math.sqrt(math.fsum((v - m) ** 2 for v in self.values) / (self.n - 1))

    @property
    def se(self) -> float:
        """Standard error of the mean (0 for an exact quantity)."""
        return 0.0 if self.sd is None else self.sd / math.sqrt(self.n)

    def scaled(self, factor: float) -> "Measured":
        """The quantity times a constant (its spread scales with it)."""
        sd = None if self.borrowed_sd is None else self.borrowed_sd * abs(factor)
        return Measured(tuple(v * factor for v in self.values), sd)

    def fmt(self, spec: str = ".3f") -> str:
        """``mean ± sd (n seeds)``; a borrowed spread ``±~sd``; an exact value alone."""
        if self.n >= 2:
            return f"{self.mean:{spec}} ± {self.sd:{spec}} ({self.n} seeds)"
        if self.borrowed_sd is not None:
            return f"{self.mean:{spec}} ±~{self.borrowed_sd:{spec}}"
        return f"{self.mean:{spec}}"


Quantity = Measured | float


def measured(q: Quantity) -> Measured:
    return q if isinstance(q, Measured) else Measured((float(q),))


def pooled_sd(samples: Iterable[Measured]) -> float | None:
    """Pooled s.d. ``sqrt(sum (n - 1) sd^2 / sum (n - 1))`` of the replicated quantities; None without any."""
    reps = [m for m in samples if m.n >= 2]
    df = sum(m.n - 1 for m in reps)
    return math.sqrt(math.fsum((m.n - 1) * m.sd ** 2 for m in reps) / df) if df else None


def at_most(a: Quantity, b: Quantity, k: float | None, tol: float = 0.0) -> str:
    """Verdict of ``a <= b + tol`` at ``k`` standard errors (module docstring)."""
    a, b = measured(a), measured(b)
    margin, se = b.mean + tol - a.mean, math.hypot(a.se, b.se)
    if se == 0.0 or k is None:
        return HOLDS if margin >= 0 else FAILS
    return HOLDS if margin > k * se else FAILS if margin < -k * se else NOISE


def all_of(verdicts: Iterable[str]) -> str:
    verdicts = list(verdicts)
    return FAILS if FAILS in verdicts else NOISE if NOISE in verdicts else HOLDS


def any_of(verdicts: Iterable[str]) -> str:
    verdicts = list(verdicts)
    return HOLDS if HOLDS in verdicts else NOISE if NOISE in verdicts else FAILS


def negate(verdict: str) -> str:
    return {HOLDS: FAILS, FAILS: HOLDS}.get(verdict, verdict)


def lowest(values: Mapping[str, Quantity], who: str, k: float | None) -> str:
    """Verdict of "``who`` has the lowest value": at most each other one."""
    return all_of(at_most(values[who], v, k) for name, v in values.items() if name != who)


def non_increasing(values: Sequence[Quantity], k: float | None, tol: float = 0.0) -> str:
    """Verdict of "each value is at most the one before it, up to ``tol``"."""
    return all_of(at_most(b, a, k, tol) for a, b in zip(values, values[1:]))
