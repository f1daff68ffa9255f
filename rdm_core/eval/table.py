"""Score tables: per-encoder ratios in battery order, held-out encoders starred, then the battery mean."""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import pandas as pd

from .ratios import sw_rK


def score_table(rows: Mapping[str, Mapping[str, float]], order: Sequence[str], heldout: Iterable[str] = (),
                metric: str = "SW_r") -> pd.DataFrame:
    """One row per label of ``rows`` (label -> per-encoder ratios); columns follow ``order`` with held-out
    encoders marked by a trailing '*', then the arithmetic mean over the battery, ``f"{metric}{K}"``."""
    heldout = set(heldout)
    columns = [f"{n}*" if n in heldout else n for n in order]
    data = {label: [r[n] for n in order] + [sw_rK(r, order)] for label, r in rows.items()}
    return pd.DataFrame.from_dict(data, orient="index", columns=[*columns, f"{metric}{len(order)}"])
