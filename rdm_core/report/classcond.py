"""Tables and figures of the mini class-conditional stage (Tables 1, 3, 6, 7; Figs 4 right panel, 5, 6;
the sample grids), built from the per-generator evaluation JSONs and the preference records.

Evaluation JSON (``evaluate_generator``): the output of :func:`rdm_core.eval.score_images` plus
"generator", "class_agreement" and "nfe". Nothing here trains or evaluates.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..eval.ratios import sw_rK  # noqa: E402
from .toy import draw_lowdim_batch_axis  # noqa: E402

REAL = "real"


def display_name(gen: str, encoders: Mapping[str, Sequence[str]] | None = None) -> str:
    """Table label of a generator id (``encoders``: arm -> the encoders it trains against)."""
    trained = (encoders or {}).get(gen)
    if gen == REAL:
        return "real validation"
    if gen == "irdm":
        return "iRDM (ours, PID)"
    if gen == "uniform":
        return "iRDM, uniform weights"
    if gen == "warmstart":
        return "warm start (Frechet; pMF-H FD-SIM analogue)"
    if gen.startswith("flow_nfe"):
        return f"flow matching, NFE={gen[len('flow_nfe'):]}"
    if gen.startswith("batch_n"):
        return f"single-encoder RDM, N={gen[len('batch_n'):]}"
    if trained and len(trained) == 1:
        return f"single-encoder RDM ({trained[0]}){' [gaming]' if gen == 'gaming' else ''}"
    return gen


def nfe_of(gen: str) -> str:
    if gen == REAL:
        return "-"
    return gen[len("flow_nfe"):] if gen.startswith("flow_nfe") else "1"


def ratio_table(evals: Mapping[str, Mapping], gens: Sequence[str], order: Sequence[str], heldout: Sequence[str],
                metric: str = "sw", encoders: Mapping[str, Sequence[str]] | None = None,
                sort: bool = True) -> pd.DataFrame:
    """Table 1 (``metric="sw"``) or Table 7 (``"mmd"``): model, NFE, per-encoder ratios in battery order
    (held-out starred), the battery mean, the held-out mean and the class agreement; sorted by the mean."""
    key, head = ("sw_ratios", "SW_r") if metric == "sw" else ("mmd_ratios", "MMDr")
    held = [n for n in order if n in set(heldout)]
    rows = []
    for gen in gens:
        r = evals[gen][key]
        row = {"model": display_name(gen, encoders), "generator": gen, "NFE": nfe_of(gen)}
        row.update({(f"{n}*" if n in held else n): float(r[n]) for n in order})
        row[f"{head}{len(order)}"] = sw_rK(r, order)
        row[f"{head} held-out"] = sw_rK(r, held) if held else math.nan
        row["class agreement"] = float(evals[gen].get("class_agreement", math.nan))
        rows.append(row)
    df = pd.DataFrame(rows)
    if sort:
        df = df.sort_values(f"{head}{len(order)}", kind="stable").reset_index(drop=True)
    return df


def table3(evals: Mapping[str, Mapping], arms: Mapping[str, str], order: Sequence[str], heldout: Sequence[str],
           trained: Sequence[str]) -> pd.DataFrame:
    """Gated vs uniform weighting: per-encoder SW ratios, SW_rK, the mean over the trained and the held-out
    encoders, and the class agreement; ``arms`` maps a row label to a generator id."""
    df = ratio_table(evals, list(arms.values()), order, heldout, "sw", sort=False)
    df.insert(0, "weighting", list(arms))
    df["SW_r trained"] = [sw_rK(evals[g]["sw_ratios"], trained) if trained else math.nan for g in arms.values()]
    return df.drop(columns=["model", "NFE"])


def table6(evals: Mapping[str, Mapping], sweep: Sequence[Mapping], encoder: str, order: Sequence[str],
           heldout: Sequence[str]) -> pd.DataFrame:
    """Batch axis: one row per rollout N (arm, N, the steps it ran, lr, samples seen, the budget the arms were
    matched on), SW_rK, the trained encoder's own SW ratio, the held-out mean and the class agreement."""
    held = [n for n in order if n in set(heldout)]
    rows = []
    for s in sorted(sweep, key=lambda s: s["N"]):
        e = evals[s["arm"]]
        rows.append({"N": int(s["N"]), "steps": int(s["steps"]), "lr x1e3": 1e3 * float(s["lr"]),
                     "samples seen": int(s["N"]) * int(s["steps"]), "budget": s["budget"], "generator": s["arm"],
                     f"SW_r{len(order)}": sw_rK(e["sw_ratios"], order),
                     f"SW ratio {encoder} (trained)": float(e["sw_ratios"][encoder]),
                     "SW_r held-out": sw_rK(e["sw_ratios"], held) if held else math.nan,
                     "class agreement": float(e.get("class_agreement", math.nan))})
    return pd.DataFrame(rows)


def gaming_table(evals: Mapping[str, Mapping], gens: Sequence[str], trained: Sequence[str], order: Sequence[str],
                 heldout: Sequence[str], encoders: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Fig. 5 table: per-encoder SW ratios of each generator, then the trained encoder(s)' mean, the other
    encoders' mean (trained-against by iRDM but not by the gaming arm), the held-out mean and SW_rK."""
    held = [n for n in order if n in set(heldout)]
    others = [n for n in order if n not in set(trained) and n not in set(held)]
    df = ratio_table(evals, gens, order, heldout, "sw", encoders, sort=False)
    df["gamed"] = ",".join(trained)
    df["SW_r gamed encoder"] = [sw_rK(evals[g]["sw_ratios"], trained) for g in gens]
    df["SW_r other train encoders"] = [sw_rK(evals[g]["sw_ratios"], others) if others else math.nan for g in gens]
    return df


def preference_table(records: Sequence[Mapping], encoders: Mapping[str, Sequence[str]] | None = None
                     ) -> pd.DataFrame:
    rows = [{"player": display_name(r["player"], encoders), "opponent": display_name(r["opponent"], encoders),
             "opponent id": r["opponent"], "win rate": r["win_rate"], "stderr": r["stderr"], "pairs": r["pairs"],
             "mean score (player)": r["mean_score_a"], "mean score (opponent)": r["mean_score_b"]}
            for r in records]
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- figures
def first_of_classes(batches, per_class: int = 8, n_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` samples of classes 0..n_classes-1 from a stream of (images, labels) batches."""
    keep_x, keep_y, counts = [], [], np.zeros(n_classes, dtype=int)
    for images, labels in batches:
        for x, y in zip(images.numpy(), labels.numpy()):
            if y < n_classes and counts[y] < per_class:
                keep_x.append(x)
                keep_y.append(y)
                counts[y] += 1
        if counts.min() >= per_class:
            break
    return np.stack(keep_x), np.asarray(keep_y)


def _grid(images: np.ndarray, labels: np.ndarray, per_class: int, n_classes: int = 10) -> np.ndarray:
    """Rows = classes, columns = the first ``per_class`` samples of that class: one [H*C, W*per_class] mosaic
    (RGB images give [.., .., 3])."""
    c, h, w = images.shape[1:]
    out = np.ones((n_classes * h, per_class * w, c), dtype=np.float32)
    for k in range(n_classes):
        idx = np.flatnonzero(labels == k)[:per_class]
        for j, i in enumerate(idx):
            out[k * h:(k + 1) * h, j * w:(j + 1) * w] = images[i].transpose(1, 2, 0)
    return out[..., 0] if c == 1 else out


def samples_figure(sets: Mapping[str, tuple[np.ndarray, np.ndarray]], per_class: int = 8):
    """One panel per sample set (title -> (images [N,1,H,W], labels)); rows are the requested classes."""
    fig, axes = plt.subplots(1, len(sets), figsize=(1.9 * len(sets) + 0.4, 2.6), squeeze=False)
    for ax, (title, (images, labels)) in zip(axes[0], sets.items()):
        ax.imshow(_grid(np.asarray(images), np.asarray(labels), per_class), cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("requested class 0-9 (top to bottom)", fontsize=7)
    fig.tight_layout()
    return fig


def fig4_figure(cells: pd.DataFrame, floor: Mapping, sweep: pd.DataFrame | None, encoder: str | None = None):
    """Both batch axes: the toy panel (medDist over B) and, when given, the mini class-conditional panel
    (SW_rK and the trained encoder's own ratio over the rollout N, at matched samples seen)."""
    n = 1 if sweep is None else 2
    fig, axes = plt.subplots(1, n, figsize=(4.4 * n, 3.3), squeeze=False)
    draw_lowdim_batch_axis(axes[0, 0], cells, floor)
    if sweep is not None:
        ax = axes[0, 1]
        sw_col = [c for c in sweep.columns if c.startswith("SW_r") and c[4:].isdigit()][0]
        own_col = [c for c in sweep.columns if c.startswith("SW ratio ")][0]
        ax.plot(sweep["N"], sweep[sw_col], "o-", color="#1f5fbf", label=sw_col)
        ax.plot(sweep["N"], sweep[own_col], "s--", color="#d08c00", label=f"{encoder or 'trained'} ratio")
        ax.axhline(1.0, ls=":", color="grey", lw=1, label="real val = 1")
        best = sweep.loc[sweep[sw_col].idxmin()]
        ax.axvline(best["N"], color="#1f5fbf", alpha=0.2, lw=6)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sweep["N"], [str(int(v)) for v in sweep["N"]])
        ax.set_xlabel("rollout N (matched samples seen, lr ~ sqrt N)")
        ax.set_ylabel("SW ratio (lower is better)")
        ax.set_title("MNIST class-conditional, single-encoder arm", fontsize=10)
        ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def fig5_figure(table: pd.DataFrame, order: Sequence[str], heldout: Sequence[str], trained: Sequence[str],
                sets: Mapping[str, tuple[np.ndarray, np.ndarray]], per_class: int = 6):
    """Left: per-encoder SW ratios of each generator (gamed encoder highlighted, held-out starred, 1 dashed);
    right: sample grids side by side."""
    fig = plt.figure(figsize=(6.0 + 1.8 * len(sets), 3.4))
    gs = fig.add_gridspec(1, 1 + len(sets), width_ratios=[3.2] + [1.0] * len(sets))
    ax = fig.add_subplot(gs[0, 0])
    cols = [f"{n}*" if n in set(heldout) else n for n in order]
    x = np.arange(len(cols))
    width = 0.8 / len(table)
    for i, (_, row) in enumerate(table.iterrows()):
        ax.bar(x + (i - (len(table) - 1) / 2) * width, [row[c] for c in cols], width, label=row["model"])
    for j, n in enumerate(order):
        if n in set(trained):
            ax.axvspan(j - 0.45, j + 0.45, color="red", alpha=0.12)
    ax.axhline(1.0, ls="--", color="grey", lw=1)
    ax.set_xticks(x, cols, rotation=60, fontsize=7, ha="right")
    ax.set_ylabel("SW ratio to real val (1 = real)")
    ax.set_yscale("log")
    ax.set_title(f"single-encoder matching games {', '.join(trained)} (shaded)", fontsize=9)
    ax.legend(frameon=False, fontsize=6)
    for k, (title, (images, labels)) in enumerate(sets.items()):
        a = fig.add_subplot(gs[0, 1 + k])
        a.imshow(_grid(np.asarray(images), np.asarray(labels), per_class), cmap="gray", vmin=0, vmax=1)
        a.set_title(title, fontsize=7)
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    return fig


def fig6_figure(prefs: pd.DataFrame):
    """Win-rate bars (with one standard error) and a dashed line at 0.5."""
    fig, ax = plt.subplots(figsize=(4.8, 3.0))
    y = np.arange(len(prefs))
    ax.barh(y, prefs["win rate"], xerr=prefs["stderr"], color="#1f5fbf", alpha=0.85)
    for yi, v in zip(y, prefs["win rate"]):
        ax.text(v + 0.02, yi, f"{100 * v:.1f}%", va="center", fontsize=8)
    ax.axvline(0.5, ls="--", color="grey", lw=1)
    ax.set_yticks(y, [f"vs {o}" for o in prefs["opponent"]], fontsize=7)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel(f"{prefs['player'].iloc[0]} preferred (held-out sup_res log p(class))")
    fig.tight_layout()
    return fig
