"""Table 2 and Figure 1 of the text-to-image stage, from the metric files both scales write (T2I contract).

Every number comes from ``metrics/t2i/{model}.json`` and ``metrics/t2i/curve.json``; the grids from the
``grids/{model}.safetensors`` files of the teacher (4 steps) and the joint student on the same prompts
and noise.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
MODELS = {"teacher_nfe4": "teacher, 4 steps", "teacher_nfe1": "teacher, 1 step",
          "student_joint": "iRDM joint (ours), 1 step", "student_marginal": "iRDM marginal, 1 step"}


REAL = {"real_val": "real val compositions (the scorers' ceiling)"}


def table2(metrics: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per model in MODELS order (after the real row where ``metrics`` has it; those with metrics: the
    released student alone has no marginal arm): NFE (none for real images), GenEval overall, the six tasks, mean
    PickScore (paper scale: COCO-val), and, where the metrics have it (paper scale), PickScore on the Pick-a-Pic
    test prompts beside it."""
    rows = []
    for model, label in ({**REAL, **MODELS} if "real_val" in metrics else MODELS).items():
        if model not in metrics:
            continue
        m = metrics[model]
        rows.append({"model": label, "id": model, "NFE": m["nfe"], "GenEval": m["geneval"]["overall"],
                     **{t: m["geneval"][t] for t in TASKS}, "PickScore": m["pickscore"],
                     **({"PickScore Pick-a-Pic": m["pickscore_pickapic"]} if "pickscore_pickapic" in m else {})})
    table = pd.DataFrame(rows)
    table["NFE"] = table["NFE"].astype("Int64")
    return table


def grid_image(images: np.ndarray, cols: int) -> np.ndarray:
    """uint8 [n, H, W, 3] -> one mosaic [rows * (H + 1), cols * (W + 1), 3] with 1 px white gaps."""
    n, h, w, _ = images.shape
    rows = -(-n // cols)
    out = np.full((rows * (h + 1), cols * (w + 1), 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    return out


def fig1(curve: Mapping, grids: Mapping[str, tuple[np.ndarray, Sequence[str]]], cols: int = 4):
    """(a) teacher samples, (b) student samples on the same prompts and noise, (c) GenEval and PickScore
    of each saved student checkpoint against training compute, the teacher's values dashed."""
    fig = plt.figure(figsize=(12.5, 4.2))
    spec = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.5], wspace=0.25)
    prompts = None
    for k, (model, title) in enumerate([("teacher_nfe4", "(a) teacher, 4 steps"),
                                        ("student_joint", "(b) iRDM student, 1 step")]):
        images, prompts = grids[model]
        ax = fig.add_subplot(spec[0, k])
        ax.imshow(grid_image(images, cols), interpolation="nearest")
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    if prompts is not None:
        text = "; ".join(f"{i + 1}. {p.removeprefix('a photo of ')}" for i, p in enumerate(prompts))
        fig.text(0.05, -0.02, "prompts (row-major): " + text, fontsize=6.5, wrap=True, va="top")
    pts = sorted(curve["points"], key=lambda p: p["step"])
    x = [p["compute"] for p in pts]
    ax = fig.add_subplot(spec[0, 2])
    ax.plot(x, [p["geneval"] for p in pts], "o-", color="tab:orange", label="GenEval (student)")
    ax.axhline(curve["teacher"]["geneval"], color="tab:orange", ls="--", lw=1, label="GenEval (teacher, 4 steps)")
    ax.set_xlabel(f"post-training compute ({curve['compute_unit']})")
    ax.set_ylabel("GenEval overall", color="tab:orange")
    ax2 = ax.twinx()
    ax2.plot(x, [p["pickscore"] for p in pts], "s-", color="tab:blue", label="PickScore (student)")
    ax2.axhline(curve["teacher"]["pickscore"], color="tab:blue", ls="--", lw=1, label="PickScore (teacher, 4 steps)")
    ax2.set_ylabel("PickScore", color="tab:blue")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="lower right")
    ax.set_title("(c) GenEval & PickScore vs compute", fontsize=10)
    return fig
