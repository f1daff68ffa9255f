"""Table 5: the encoder battery, its frozen reference, and the probes of the metric."""

from __future__ import annotations

from typing import Mapping, Sequence

import pandas as pd

from rdm_core.representation.spec import get_spec

PROBES = ("fresh real", "blurred real", "uniform noise")


def battery_table(names: Sequence[str], floors: Mapping[str, Mapping], probes: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per encoder (held-out ones starred), then the battery mean of each probe's SW ratio."""
    rows = []
    for name in names:
        spec = get_spec(name)
        rows.append({"encoder": f"{name}*" if spec.split == "heldout" else name, "paradigm": spec.paradigm,
                     "split": spec.split, "dim": spec.dim, "sigma": floors[name]["sigma"],
                     "nystrom floor": floors[name]["nystrom"],
                     **{f"SW ratio: {p}": probes[p]["sw_ratios"][name] for p in PROBES}})
    mean = {"encoder": f"mean (SW_r{len(names)})", **{f"SW ratio: {p}": probes[p]["sw_rK"] for p in PROBES}}
    return pd.DataFrame([*rows, mean]).astype({"dim": "Int64"})
