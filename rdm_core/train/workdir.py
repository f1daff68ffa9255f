"""Checkpoint folders keyed by the run's settings and inputs, so a changed config or a rebuilt input never
resumes a stale checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

# Settings that may change without invalidating earlier checkpoints: more steps continue the same run.
RESUMABLE = ("steps", "checkpoint_every")


def input_identity(path: str | os.PathLike) -> list:
    """(name, size, mtime in ns) of a file, or of every file under a folder: a rebuilt input (Snakemake rewrites
    it) changes its mtime, while a killed job's inputs stay as they were, so resuming still finds its folder."""
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(p.relative_to(path.parent)), (s := p.stat()).st_size, s.st_mtime_ns] for p in files]


def keyed_workdir(base: str | os.PathLike, cfg: Mapping, inputs: Iterable[str | os.PathLike],
                  resumable: Sequence[str] = RESUMABLE) -> Path:
    """``base/<12 hex digits of the hash of the config and the inputs' identities>``; keys in ``resumable`` are
    left out, so raising ``steps`` resumes from the latest checkpoint while any other change, or an input file
    rebuilt since, starts a fresh folder."""
    kept = {k: v for k, v in cfg.items() if k not in resumable}
    key = {"config": kept, "inputs": [input_identity(p) for p in inputs]}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(base) / digest
