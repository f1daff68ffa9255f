"""GenEval harness (SPEC 2.5): the official prompts, per-sample seeds, the scorer's folder layout, the
external scorer command and the parser of its results.

- Prompts: the 553 rows of the official ``prompts/evaluation_metadata.jsonl`` (one JSON object per line:
  tag, include/exclude clauses, prompt), bundled as ``data/prompts/geneval_evaluation_metadata.jsonl``
  (djghosh13/geneval af4902f, MIT) and checked by row count and sha256.
- Seeds: sample j of prompt i is drawn from its own generator seeded 46,000,000 + 100 i + j, 4 per prompt.
- Scoring runs in its own environment, ``workflow/envs/geneval.yaml`` (``snakemake --use-conda``).
- Layout read by the official ``evaluation/evaluate_images.py``: ``<outdir>/<iiiii>/metadata.jsonl`` (the
  prompt's metadata row, one JSON object) and ``<outdir>/<iiiii>/samples/<jjjj>.png``.
- The scorer writes one JSON record per image (filename, tag, prompt, correct, ...); a task's score is its
  share of correct images, overall = the unweighted mean of the six task scores.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..io import atomic_path, checked_file

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
N_PROMPTS = 553
SEED_BASE = 46_000_000
SHA256 = "5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13"  # djghosh13/geneval af4902f


def sample_seed(prompt_idx: int, sample_idx: int, base: int = SEED_BASE) -> int:
    """Noise seed of sample ``sample_idx`` of prompt ``prompt_idx``."""
    if not 0 <= sample_idx < 100:
        raise ValueError(f"sample index {sample_idx} out of 0..99 (seeds are spaced 100 apart per prompt)")
    return base + prompt_idx * 100 + sample_idx


def load_prompts(path: str | os.PathLike, key: str, expect: int | None = N_PROMPTS,
                 sha256: str | None = None) -> list[dict]:
    """The metadata rows of the GenEval prompts, in file order; ``key`` names the config key of the path.
    With ``sha256`` the file must be byte-identical to the official one (:data:`SHA256`)."""
    path = checked_file(path, key, "GenEval prompt metadata (the project bundles it as "
                        "data/prompts/geneval_evaluation_metadata.jsonl)", sha256)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    bad = [i for i, r in enumerate(rows) if r.get("tag") not in TASKS or not r.get("prompt") or not r.get("include")]
    if bad:
        raise ValueError(f"{path}: rows {bad[:5]} lack a known tag ({', '.join(TASKS)}), a prompt or include clauses")
    if expect is not None and len(rows) != expect:
        raise ValueError(f"{path}: {len(rows)} prompts, the official GenEval set has {expect}")
    return rows


def prompt_dir(outdir: str | os.PathLike, prompt_idx: int) -> Path:
    return Path(outdir) / f"{prompt_idx:05d}"


def sample_path(outdir: str | os.PathLike, prompt_idx: int, sample_idx: int) -> Path:
    return prompt_dir(outdir, prompt_idx) / "samples" / f"{sample_idx:04d}.png"


def write_prompt(outdir: str | os.PathLike, prompt_idx: int, metadata: dict, images: np.ndarray) -> None:
    """One prompt's folder: its metadata row and its samples (uint8 [n, H, W, 3]) as PNGs, each written atomically."""
    folder = prompt_dir(outdir, prompt_idx)
    (folder / "samples").mkdir(parents=True, exist_ok=True)
    for j, image in enumerate(images):
        with atomic_path(sample_path(outdir, prompt_idx, j)) as tmp:
            Image.fromarray(image).save(tmp, format="PNG")
    with atomic_path(folder / "metadata.jsonl") as tmp:  # last: marks the prompt complete
        tmp.write_text(json.dumps(metadata) + "\n")


def render_prompts(outdir: str | os.PathLike, rows: Sequence[dict],
                   render: Callable[[list[int], list[int]], np.ndarray],
                   n_samples: int = 4, seed_base: int = SEED_BASE, batch_prompts: int = 8,
                   log: Callable[[str], None] = print, seed: Callable[[int, int], int] | None = None,
                   prompts: Sequence[int] | None = None) -> int:
    """Render ``n_samples`` per prompt (of ``prompts``, default all) into the scorer's layout; returns how many
    prompts were rendered.

    ``render(prompt_indices, seeds)`` returns uint8 images [len(seeds), H, W, 3] (one per (prompt, seed)
    pair); sample j of prompt i has the noise seed ``seed(i, j)`` (default: :func:`sample_seed`). Prompts whose
    folder is already complete are kept (a killed job resumes).
    """
    seed = seed or (lambda i, j: sample_seed(i, j, seed_base))
    todo = [i for i in (range(len(rows)) if prompts is None else prompts)
            if not ((prompt_dir(outdir, i) / "metadata.jsonl").is_file()
                    and all(sample_path(outdir, i, j).is_file() for j in range(n_samples)))]
    for start in range(0, len(todo), batch_prompts):
        block = todo[start:start + batch_prompts]
        idx = [i for i in block for _ in range(n_samples)]
        seeds = [seed(i, j) for i in block for j in range(n_samples)]
        images = render(idx, seeds)
        for k, i in enumerate(block):
            write_prompt(outdir, i, rows[i], images[k * n_samples:(k + 1) * n_samples])
        log(f"GenEval: {min(start + batch_prompts, len(todo))}/{len(todo)} prompts rendered")
    return len(todo)


def scorer_command(scorer: dict, imagedir: str | os.PathLike, outfile: str | os.PathLike) -> list[str]:
    """Arguments of the official scorer, for the Python of its own environment: ``<root>/evaluation/evaluate_images.py
    <imagedir> --outfile <outfile> --model-path <detector_dir> [--model-config <cfg>] --options model=<detector> ...``.
    A config ``mmdet:<path>`` is one of the mmdet package's builtin configs (resolved in that environment);
    ``workflow/scripts/geneval_run.py`` checks the environment and the script before running it."""
    script = Path(scorer["root"]) / "evaluation" / "evaluate_images.py"
    argv = [str(script), str(imagedir), "--outfile", str(outfile), "--model-path", str(scorer["detector_dir"])]
    if scorer.get("detector_config"):
        argv += ["--model-config", str(scorer["detector_config"])]
    options = {"model": scorer["detector"], **{k: str(v) for k, v in scorer.get("options", {}).items()}}
    return argv + ["--options", *(f"{k}={v}" for k, v in options.items())]


def parse_results(path: str | os.PathLike, expect_images: int | None = None) -> dict:
    """{"single_object": f, ..., "color_attr": f, "overall": f, "images": n, "per_task_images": {...}} of a
    scorer results file; every task must be present (overall is the unweighted mean of the six)."""
    records = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    if expect_images is not None and len(records) != expect_images:
        raise ValueError(f"{path}: {len(records)} scored images, expected {expect_images}")
    by_task: dict[str, list[bool]] = {t: [] for t in TASKS}
    for r in records:
        if r.get("tag") not in by_task or not isinstance(r.get("correct"), bool):
            raise ValueError(f"{path}: record for {r.get('filename')!r} lacks a known tag or a boolean 'correct'")
        by_task[r["tag"]].append(r["correct"])
    empty = [t for t, v in by_task.items() if not v]
    if empty:
        raise ValueError(f"{path}: no scored images for tasks {empty}")
    scores = {t: sum(v) / len(v) for t, v in by_task.items()}
    return {**scores, "overall": sum(scores.values()) / len(TASKS), "images": len(records),
            "per_task_images": {t: len(v) for t, v in by_task.items()}}
