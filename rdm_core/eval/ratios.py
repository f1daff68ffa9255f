"""SW_rK and MMDrK: per-encoder distance ratios to the real-data floor, averaged over a battery (SPEC 2.2, 2.3).

r_e = SW_2(gen, train bank) / SW_2(val, train bank), with 1024 directions of one shared seed and equal
set sizes; a fresh real draw scores about 1. The MMD ratio is RFF-MMD^2(gen) / RFF-MMD^2(val) against
the same mean embedding; ratios are unitless (the x1000 convention applies to raw MMD^2 values only).
Both battery scores are arithmetic means of the ratios.
"""

from __future__ import annotations

import warnings
from typing import Iterable, Mapping

from torch import Tensor

from ..reference.banks import EvalBank, rff_mmd2


def sw_ratios(gen_feats: Mapping[str, Tensor], banks: Mapping[str, EvalBank]) -> dict[str, float]:
    """Per-encoder SW_2 ratios. Generated features are truncated to the bank size; with fewer generated
    rows than the bank, the train and val subsets are truncated to the common size too (with a warning)."""
    out = {}
    for name, gen in gen_feats.items():
        bank = banks[name]
        n = min(gen.shape[0], bank.n)
        if n < bank.n:
            warnings.warn(f"encoder '{name}': {gen.shape[0]} generated samples, fewer than the {bank.n} of the "
                          f"SW bank; truncating every set to {n} rows (floor recomputed at that size)", stacklevel=2)
        sw, floor = bank.sw_at(n)
        out[name] = sw.score(gen[:n]) / floor
    return out


def mmd_ratios(gen_feats: Mapping[str, Tensor], banks: Mapping[str, EvalBank]) -> dict[str, float]:
    """Per-encoder RFF-MMD^2 ratios over all generated rows (the floor uses the bank's first ``rff_n`` val rows)."""
    return {name: rff_mmd2(gen, banks[name].rff_mu, banks[name].rff) / banks[name].rff_floor
            for name, gen in gen_feats.items()}


def sw_rK(ratios: Mapping[str, float], names: Iterable[str] | None = None) -> float:
    """Arithmetic mean of the ratios over ``names`` (default: all of them): SW_rK, or MMDrK for MMD ratios."""
    names = list(ratios if names is None else names)
    if not names:
        raise ValueError("a battery score needs at least one encoder")
    return sum(ratios[n] for n in names) / len(names)


mmd_rK = sw_rK


def score_features(gen_feats: Mapping[str, Tensor], banks: Mapping[str, EvalBank],
                   heldout: Iterable[str] = ()) -> dict:
    """Both ratio sets of generated features and their battery means (all encoders and held-out only)."""
    sw, mmd = sw_ratios(gen_feats, banks), mmd_ratios(gen_feats, banks)
    held = set(heldout)
    heldout = [n for n in gen_feats if n in held]
    return {"n_generated": min(int(g.shape[0]) for g in gen_feats.values()), "K": len(sw),
            "encoders": list(gen_feats), "heldout": heldout, "sw_ratios": sw, "mmd_ratios": mmd,
            "sw_rK": sw_rK(sw), "mmd_rK": mmd_rK(mmd),
            "sw_rK_heldout": sw_rK(sw, heldout) if heldout else None,
            "mmd_rK_heldout": mmd_rK(mmd, heldout) if heldout else None}
