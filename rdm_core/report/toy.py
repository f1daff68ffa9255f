"""Tables and figures of the spiral diagnostic (Fig. 3, Fig. 4 low-dim, Table 4 low-dim)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rdm_core.io import read_json

DISPLAY = {
    "frechet": "Fréchet",
    "sw": "SW",
    "drifting": "Drifting",
    "mmd_rff": "MMD (RFF)",
    "mmd_exact": "MMD (exact)",
    "mmd_nystrom": "MMD (Nyström)",
}


def cell_table(metric_files: Sequence[str]) -> pd.DataFrame:
    """One row per toy cell: distance, B, recall, medDist, finite."""
    rows = [read_json(f) for f in metric_files]
    df = pd.DataFrame(rows)[["distance", "batch", "iterations", "recall", "med_dist", "finite"]]
    return df.sort_values(["batch", "distance"], key=_distance_order).reset_index(drop=True)


def _distance_order(col: pd.Series) -> pd.Series:
    return col.map(list(DISPLAY).index) if col.name == "distance" else col


def fig3_figure(cells: pd.DataFrame, samples: Mapping[tuple[str, int], np.ndarray], curve: np.ndarray,
                floor: Mapping, distances: Sequence[str], batches: Sequence[int]):
    """The 3 x 6 grid: rows B, columns distances, each panel labelled recall / medDist."""
    fig, axes = plt.subplots(len(batches), len(distances), figsize=(2.2 * len(distances), 2.2 * len(batches)),
                             squeeze=False, sharex=True, sharey=True)
    lim = float(np.abs(curve).max()) * 1.25
    index = cells.set_index(["distance", "batch"])
    for i, b in enumerate(batches):
        for j, d in enumerate(distances):
            ax = axes[i, j]
            ax.plot(curve[:, 0], curve[:, 1], color="#d08c00", lw=0.8, zorder=1)
            pts = samples[(d, b)]
            pts = pts[np.isfinite(pts).all(axis=1)]
            ax.scatter(pts[:, 0], pts[:, 1], s=0.6, color="#1f5fbf", alpha=0.35, lw=0, zorder=2)
            row = index.loc[(d, b)]
            ax.set_title(f"{row.recall:.2f} / {row.med_dist:.3f}", fontsize=9)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.annotate(DISPLAY[d], (0.5, 1.22), xycoords="axes fraction", ha="center", fontsize=10,
                            weight="bold")
            if j == 0:
                ax.set_ylabel(f"B = {b}", fontsize=10)
    fig.suptitle(f"recall / medDist per cell; real-data floor {floor['recall']:.2f} / {floor['med_dist']:.3f}",
                 y=1.02, fontsize=10)
    fig.tight_layout()
    return fig


def draw_lowdim_batch_axis(ax, cells: pd.DataFrame, floor: Mapping) -> None:
    """medDist of one arm against B on a log2 axis, with the real-data floor (Fig. 4's toy panel)."""
    ax.plot(cells["batch"], cells["med_dist"], "o-", color="#1f5fbf", label=DISPLAY[cells["distance"].iloc[0]])
    ax.axhline(floor["med_dist"], ls="--", color="grey", lw=1, label="real-data floor")
    ax.set_xscale("log", base=2)
    ax.set_xticks(cells["batch"], [str(b) for b in cells["batch"]])
    ax.set_xlabel("generation batch B")
    ax.set_ylabel("medDist (lower is better)")
    ax.set_title("Spiral, low-dim batch axis", fontsize=10)
    ax.legend(frameon=False, fontsize=8)


def table4(cells: pd.DataFrame) -> pd.DataFrame:
    """The distance ablation at one B, ranked by medDist (non-finite arms last)."""
    df = cells.assign(name=cells["distance"].map(DISPLAY))
    df = df.sort_values("med_dist", na_position="last").reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df[["rank", "distance", "name", "batch", "med_dist", "recall", "finite"]]
