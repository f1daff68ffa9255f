"""SW_rK and MMDrK: per-encoder distance ratios to the real-data floor, averaged over a battery (SPEC 2.2, 2.3).

r_e = SW_2(gen, train bank) / SW_2(val, train bank), with 1024 directions of one shared seed and equal
set sizes; a fresh real draw scores about 1. The MMD ratio is RFF-MMD^2(gen) / RFF-MMD^2(val) against
the same mean embedding; ratios are unitless (the x1000 convention applies to raw MMD^2 values only).
Both battery scores are arithmetic means of the ratios.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from torch import Tensor

from ..reference.banks import EvalBank, rff_mmd2


class TooFewSamplesError(ValueError):
    """Fewer generated rows than an SW bank: the floor would be recomputed at another set size, so the
    ratio would not be comparable with ratios at the bank's size."""

    def __init__(self, name: str, n_generated: int, n_bank: int):
        self.n_generated, self.n_bank = n_generated, n_bank
        super().__init__(f"{n_generated} generated samples, fewer than the {n_bank} rows of the SW bank of "
                         f"encoder '{name}': a ratio at another set size is not comparable with the others")


def check_sample_count(n_generated: int, banks: Mapping[str, EvalBank], allow_fewer: bool = False) -> None:
    """Refuse ``n_generated`` rows if any bank is larger (see :class:`TooFewSamplesError`), unless ``allow_fewer``."""
    name = min(banks, key=lambda key: banks[key].n)
    if n_generated < banks[name].n and not allow_fewer:
        raise TooFewSamplesError(name, n_generated, banks[name].n)


def sw_ratios(gen_feats: Mapping[str, Tensor], banks: Mapping[str, EvalBank], allow_fewer: bool = False
              ) -> dict[str, float]:
    """Per-encoder SW_2 ratios. Generated features are truncated to the bank size. Fewer generated rows
    than the bank raise :class:`TooFewSamplesError` unless ``allow_fewer``, which truncates the train and
    val subsets to the common size too (the floor recomputed at that size)."""
    out = {}
    for name, gen in gen_feats.items():
        bank = banks[name]
        check_sample_count(gen.shape[0], {name: bank}, allow_fewer)
        n = min(gen.shape[0], bank.n)
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
                   heldout: Iterable[str] = (), allow_fewer: bool = False) -> dict:
    """Both ratio sets of generated features and their battery means (all encoders and held-out only);
    ``n_bank`` is the smallest SW bank, the set size a comparable score needs (see :func:`sw_ratios`)."""
    sw, mmd = sw_ratios(gen_feats, banks, allow_fewer), mmd_ratios(gen_feats, banks)
    held = set(heldout)
    heldout = [n for n in gen_feats if n in held]
    return {"n_generated": min(int(g.shape[0]) for g in gen_feats.values()),
            "n_bank": min(banks[n].n for n in gen_feats), "K": len(sw),
            "encoders": list(gen_feats), "heldout": heldout, "sw_ratios": sw, "mmd_ratios": mmd,
            "sw_rK": sw_rK(sw), "mmd_rK": mmd_rK(mmd),
            "sw_rK_heldout": sw_rK(sw, heldout) if heldout else None,
            "mmd_rK_heldout": mmd_rK(mmd, heldout) if heldout else None}
