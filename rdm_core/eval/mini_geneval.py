"""Mini GenEval: the six GenEval task types scored programmatically over the layout (SPEC 2.5, mini analogue).

The detector is a held-out cell classifier, trained on val digits only (no objective sees it): each of the
four grid cells of a composition is classified as empty or one of ten digits, and the digit's colour as one
of the six colours. Class means of many val digits are among its "empty" examples, so a blur (the look of a
generator's conditional mean, e.g. the 1-step map of a flow teacher) is no legible digit, as for GenEval's
detector, which finds no object in a smear. A prompt's metadata (``include`` items with class, count, optional colour and position,
``exclude`` items) is then judged like the official scorer: enough detections of each included class (with
the colour where asked), fewer than the excluded count, and the relation between the object and its
reference. Overall = the unweighted mean of the six task accuracies.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.compose import CELL, COLOUR_NAMES, COLOURS, DEFAULT_TINT, OFFSET, TASKS, cells, relation_holds, small_digit
from ..io import load_tensors, save_tensors
from ..optim import FusedAdamW

EMPTY = 10  # digit class of an empty cell


class CellClassifier(nn.Module):
    """16 px RGB cell -> (11 digit logits, the last one "empty"; 7 colour logits: the six colours, then white)."""

    def __init__(self, width: int = 16):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(width, 2 * width, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(2 * width * 16, 128), nn.ReLU())
        self.digit = nn.Linear(128, 11)
        self.colour = nn.Linear(128, len(COLOURS) + 1)  # the six colours, then white

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(2 * x - 1)
        return self.digit(h), self.colour(h)


def averaged_digits(small: Tensor, labels: Tensor, rows: Tensor, average_of: tuple[int, int], gen: torch.Generator
                    ) -> Tensor:
    """Per row: the mean of m digits of the class of ``small[row]``, m uniform in ``average_of`` (inclusive),
    [len(rows), 1, 14, 14]: a blur with the look of a conditional mean."""
    least, most = average_of
    if not 1 <= least <= most:
        raise ValueError(f"average_of must be [least, most] with 1 <= least <= most, got {list(average_of)}")
    pools = [torch.nonzero(labels == d).flatten() for d in range(10)]
    out = torch.empty(len(rows), *small.shape[1:])
    for i, row in enumerate(rows.tolist()):
        pool = pools[int(labels[row])]
        m = int(torch.randint(least, most + 1, (1,), generator=gen))
        out[i] = small[pool[torch.randint(0, len(pool), (m,), generator=gen)]].mean(0)
    return out


def training_cells(small: Tensor, labels: Tensor, n: int, gen: torch.Generator, empty: float = 0.15,
                   averaged: float = 0.0, average_of: tuple[int, int] = (16, 64)) -> tuple[Tensor, Tensor, Tensor]:
    """``n`` labelled cells rendered like the compositions from ``small`` [N, 1, 14, 14] (downscaled val digits)
    with a random tint (a named colour or white, colour label len(COLOURS)), a +-1 px shift, an intensity in
    [0.6, 1] and pixel noise; a share ``empty`` is blank, and a share ``averaged`` holds the mean of several
    digits of one class (:func:`averaged_digits`), labelled empty: a blur is no legible digit."""
    rows = torch.randint(0, len(small), (n,), generator=gen)
    colour = torch.randint(0, len(COLOURS) + 1, (n,), generator=gen)  # the last one: white (no colour named)
    u = torch.rand(n, generator=gen)
    blank, blur = u < empty, (u >= empty) & (u < empty + averaged)
    tints = torch.tensor([*(COLOURS[c] for c in COLOUR_NAMES), DEFAULT_TINT])[colour].view(n, 3, 1, 1)
    intensity = 0.6 + 0.4 * torch.rand(n, 1, 1, 1, generator=gen)
    content = small[rows]
    if averaged:
        content[blur] = averaged_digits(small, labels, rows[blur], average_of, gen)
    padded = torch.zeros(n, 3, CELL + 2, CELL + 2)
    size = small.shape[-1]
    padded[:, :, OFFSET + 1:OFFSET + 1 + size, OFFSET + 1:OFFSET + 1 + size] = content * tints * intensity
    padded[blank] = 0.0
    shift = torch.randint(0, 3, (n, 2), generator=gen)
    out = torch.empty(n, 3, CELL, CELL)
    for dy in range(3):
        for dx in range(3):
            pick = (shift[:, 0] == dy) & (shift[:, 1] == dx)
            out[pick] = padded[pick, :, dy:dy + CELL, dx:dx + CELL]
    out = (out + 0.05 * torch.randn(out.shape, generator=gen)).clamp(0, 1)
    return out, torch.where(blank | blur, EMPTY, labels[rows]), colour


def train_cell_classifier(images: Tensor, labels: Tensor, steps: int, batch: int, lr: float, seed: int,
                          averaged: float = 0.0, average_of: tuple[int, int] = (16, 64)) -> CellClassifier:
    """Fit the cell classifier on freshly rendered val-digit cells (digit + empty, colour on non-empty cells;
    a share ``averaged`` of class means of ``average_of`` digits labelled empty, so a blur scores as no digit)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    small = torch.stack([small_digit(x) for x in images])
    model = CellClassifier()
    opt = FusedAdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        x, d, c = training_cells(small, labels, batch, gen, averaged=averaged, average_of=average_of)
        digit_logits, colour_logits = model(x)
        full = d != EMPTY
        loss = F.cross_entropy(digit_logits, d) + F.cross_entropy(colour_logits[full], c[full])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def save_cell_classifier(path: str | os.PathLike, model: CellClassifier, made_by: dict) -> None:
    save_tensors(path, model.state_dict(), {"kind": "mini_geneval_cells", "made_by": made_by})


def load_cell_classifier(path: str | os.PathLike) -> CellClassifier:
    tensors, _ = load_tensors(path, {"kind": "mini_geneval_cells"})
    model = CellClassifier()
    model.load_state_dict(tensors)
    return model.eval()


@torch.inference_mode()
def detect(model: CellClassifier, images: Tensor, batch: int = 512) -> tuple[Tensor, Tensor]:
    """Per image and cell: the digit (10 = empty) and colour index, [N, 4] each."""
    d, c = [], []
    for x in images.split(batch):
        digit_logits, colour_logits = model(cells(x.float()))
        d.append(digit_logits.argmax(1).view(len(x), -1))
        c.append(colour_logits.argmax(1).view(len(x), -1))
    return torch.cat(d), torch.cat(c)


def judge(meta: Mapping, digits: Sequence[int], colours: Sequence[int]) -> bool:
    """Whether one image's detections (per cell: digit or 10 for empty; colour index, 6 for white) satisfy a
    prompt's metadata."""
    found = {}
    for item_index, item in enumerate(meta["include"]):
        where = [i for i, d in enumerate(digits) if d == item["class"]]
        if "color" in item:
            where = [i for i in where if colours[i] == COLOUR_NAMES.index(item["color"])]
        if len(where) < item["count"]:
            return False
        found[item_index] = where
        if "position" in item:
            rel, ref = item["position"]
            if not any(relation_holds(rel, a, b) for a in where for b in found[ref]):
                return False
    return all(sum(d == item["class"] for d in digits) < item["count"] for item in meta.get("exclude", []))


def geneval_scores(metas: Sequence[Mapping], correct: Sequence[bool]) -> dict[str, float]:
    """Accuracy per task type and ``overall`` = their unweighted mean (every task must be present)."""
    by_task: dict[str, list[bool]] = {t: [] for t in TASKS}
    for meta, ok in zip(metas, correct):
        by_task[meta["tag"]].append(bool(ok))
    missing = [t for t, v in by_task.items() if not v]
    if missing:
        raise ValueError(f"no samples of task(s) {missing}; the prompt set must cover all six")
    scores = {t: float(np.mean(v)) for t, v in by_task.items()}
    scores["overall"] = float(np.mean([scores[t] for t in TASKS]))
    return scores


def mini_geneval(model: CellClassifier, images: Tensor, metas: Sequence[Mapping]) -> dict[str, float]:
    """Score images (one per metadata record) and return the six task accuracies and the overall mean."""
    digits, colours = detect(model, images)
    correct = [judge(m, d, c) for m, d, c in zip(metas, digits.tolist(), colours.tolist())]
    return geneval_scores(metas, correct)
