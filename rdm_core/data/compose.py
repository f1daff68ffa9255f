"""Captioned compositions of MNIST digits: the mini text-to-image data (colour, count, position).

A composition is a 32 px RGB canvas split into a 2 x 2 grid of 16 px cells; each object is one digit,
downscaled to 14 px (2 x 2 average), tinted by a colour and placed in a cell, in a canonical layout that
the caption fixes (objects fill the cells in caption order; a relation has fixed cells), so the caption
leaves only the digits' handwriting to chance (a digit whose colour it does not name is white). This keeps
the layout learnable by a small teacher in a CPU budget. Captions follow the six GenEval task types, and
every caption carries GenEval-style metadata (``tag``, ``include`` items with class, count and optional
colour and position, ``exclude`` items) that the mini GenEval scores against.
Everything is drawn from a seed: the same seed and digits give the same captions, layouts and pixels.
"""

from __future__ import annotations

import json
import os
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from ..io import load_tensors, save_tensors

CANVAS, CELL, DIGIT, GRID = 32, 16, 14, 2
OFFSET = (CELL - DIGIT) // 2
CELLS = [(r, c) for r in range(GRID) for c in range(GRID)]   # cell index -> (row, column)
COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0),
           "yellow": (1.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0), "cyan": (0.0, 1.0, 1.0)}
COLOUR_NAMES = list(COLOURS)
DEFAULT_TINT = (1.0, 1.0, 1.0)  # white: the digit's colour when the caption names none
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PLURALS = ["zeros", "ones", "twos", "threes", "fours", "fives", "sixes", "sevens", "eights", "nines"]
COUNT_WORDS = {2: "two", 3: "three", 4: "four"}
# relation -> (axis, sign): "a left of b" means column(a) < column(b)
RELATIONS = {"left of": (1, -1), "right of": (1, 1), "above": (0, -1), "below": (0, 1)}
TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
WORDS = sorted({"a", "an", "photo", "of", "and", *DIGIT_WORDS, *PLURALS, *COUNT_WORDS.values(), *COLOUR_NAMES,
                *" ".join(RELATIONS).split()})


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def _thing(digit: int, colour: str | None = None) -> str:
    return _a(f"{colour} {DIGIT_WORDS[digit]}" if colour else DIGIT_WORDS[digit])


def caption(meta: Mapping) -> str:
    """The caption of a GenEval-style metadata record."""
    inc, tag = meta["include"], meta["tag"]
    if tag == "counting":
        return f"a photo of {COUNT_WORDS[inc[0]['count']]} {PLURALS[inc[0]['class']]}"
    if tag == "position":
        return f"a photo of {_thing(inc[1]['class'])} {inc[1]['position'][0]} {_thing(inc[0]['class'])}"
    things = [_thing(i["class"], i.get("color")) for i in inc]
    return "a photo of " + " and ".join(things)


def sample_meta(task: str, rng: np.random.Generator) -> dict:
    """A random prompt of one task type as metadata (``tag``, ``include``, ``exclude``, ``prompt``)."""
    d1, d2 = (int(d) for d in rng.choice(10, 2, replace=False))
    c1, c2 = (COLOUR_NAMES[int(i)] for i in rng.integers(0, len(COLOURS), 2))
    exclude: list[dict] = []
    if task == "single_object":
        include = [{"class": d1, "count": 1}]
    elif task == "two_object":
        include = [{"class": d1, "count": 1}, {"class": d2, "count": 1}]
    elif task == "counting":
        n = int(rng.integers(2, 5))
        include, exclude = [{"class": d1, "count": n}], [{"class": d1, "count": n + 1}]
    elif task == "colors":
        include = [{"class": d1, "count": 1, "color": c1}]
    elif task == "position":
        rel = list(RELATIONS)[int(rng.integers(0, len(RELATIONS)))]
        include = [{"class": d2, "count": 1}, {"class": d1, "count": 1, "position": [rel, 0]}]
    elif task == "color_attr":
        include = [{"class": d1, "count": 1, "color": c1}, {"class": d2, "count": 1, "color": c2}]
    else:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    meta = {"tag": task, "include": include, "exclude": exclude}
    meta["prompt"] = caption(meta)
    return meta


def relation_holds(rel: str, cell_a: int, cell_b: int) -> bool:
    """Whether the object in ``cell_a`` is ``rel`` the object in ``cell_b`` (e.g. "left of": smaller column)."""
    axis, sign = RELATIONS[rel]
    return (CELLS[cell_a][axis] - CELLS[cell_b][axis]) * sign > 0


# Canonical layout: objects fill the cells in caption order; a relation puts the reference object in cell 0 and
# the object right of / below it (or the reference right of / below the object for "left of" / "above").
RELATION_CELLS = {"left of": (0, 1), "right of": (1, 0), "above": (0, 2), "below": (2, 0)}  # (object, reference)


def layout(meta: Mapping) -> list[tuple[int, int, str | None]]:
    """Objects (cell, digit, colour or None for white) that satisfy ``meta`` in the canonical layout: the
    caption fixes the cells, and a digit whose colour it does not name is white."""
    inc = meta["include"]
    if meta["tag"] == "position":
        cell_obj, cell_ref = RELATION_CELLS[inc[1]["position"][0]]
        return [(cell_ref, inc[0]["class"], inc[0].get("color")), (cell_obj, inc[1]["class"], inc[1].get("color"))]
    items = [item for item in inc for _ in range(item["count"])]
    return [(cell, item["class"], item.get("color")) for cell, item in enumerate(items)]


def small_digit(digit: Tensor) -> Tensor:
    """A 28 px grey digit [1, 28, 28] in [0, 1] downscaled to 14 px by 2 x 2 averaging."""
    return torch.nn.functional.avg_pool2d(digit.float().unsqueeze(0), 2).squeeze(0)


def render(objects: Sequence[tuple[int, int, str | None]], digits: Sequence[Tensor]) -> Tensor:
    """The canvas [3, 32, 32] in [0, 1]: object i's 28 px grey digit ``digits[i]`` tinted and placed in its cell."""
    canvas = torch.zeros(3, CANVAS, CANVAS)
    for (cell, _, colour), digit in zip(objects, digits):
        r, c = CELLS[cell]
        y, x = r * CELL + OFFSET, c * CELL + OFFSET
        tint = torch.tensor(COLOURS[colour] if colour else DEFAULT_TINT).view(3, 1, 1)
        patch = canvas[:, y:y + DIGIT, x:x + DIGIT]
        canvas[:, y:y + DIGIT, x:x + DIGIT] = torch.maximum(patch, small_digit(digit) * tint)
    return canvas


def cells(images: Tensor) -> Tensor:
    """[N, C, 32, 32] -> [N * 4, C, 16, 16], the grid cells of each image in cell-index order."""
    n, c = images.shape[:2]
    x = images.reshape(n, c, GRID, CELL, GRID, CELL).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n * GRID * GRID, c, CELL, CELL)


def class_pools(labels: Tensor) -> list[np.ndarray]:
    """Row indices of each digit class."""
    labels = labels.numpy()
    return [np.flatnonzero(labels == d) for d in range(10)]


def make_compositions(images: Tensor, labels: Tensor, per_task: int, seed: int) -> dict:
    """``per_task`` captioned compositions of each task type built from ``images`` [N, 1, 28, 28] in [0, 1].

    Returns ``images`` uint8 [6 per_task, 3, 32, 32] (tasks interleaved row by row), ``captions`` and
    ``meta`` (one GenEval-style record per row, with the layout under ``objects``).
    """
    rng = np.random.default_rng(seed)
    pools = class_pools(labels)
    out_images, captions, metas = [], [], []
    for _ in range(per_task):
        for task in TASKS:
            meta = sample_meta(task, rng)
            objects = layout(meta)
            digits = [images[int(rng.choice(pools[d]))] for _, d, _ in objects]
            out_images.append(render(objects, digits))
            captions.append(meta["prompt"])
            metas.append({**meta, "objects": [list(o) for o in objects]})
    pixels = (torch.stack(out_images) * 255).round().to(torch.uint8)
    return {"images": pixels, "captions": captions, "meta": metas}


def prompt_set(per_task: int, seed: int) -> list[dict]:
    """The evaluation prompts: up to ``per_task`` distinct prompts of each task type (fewer where the task
    has fewer distinct captions, e.g. ten single-object prompts), drawn from ``seed``, grouped by task."""
    rng = np.random.default_rng(seed)
    prompts = []
    for task in TASKS:
        seen: dict[str, dict] = {}
        for _ in range(50 * per_task):
            if len(seen) == per_task:
                break
            meta = sample_meta(task, rng)
            seen.setdefault(meta["prompt"], meta)
        prompts += list(seen.values())
    return prompts


def save_compositions(path: str | os.PathLike, comps: Mapping, made_by: Mapping) -> None:
    """Pixels (uint8) as a tensor; captions and metadata records as JSON metadata."""
    save_tensors(path, {"images": comps["images"]}, {"captions": comps["captions"], "meta": comps["meta"],
                                                     "made_by": dict(made_by)})


def load_compositions(path: str | os.PathLike) -> tuple[Tensor, list[str], list[dict]]:
    """Images float32 [N, 3, 32, 32] in [0, 1], captions and metadata records."""
    tensors, meta = load_tensors(path)
    return tensors["images"].float() / 255.0, json.loads(meta["captions"]), json.loads(meta["meta"])
