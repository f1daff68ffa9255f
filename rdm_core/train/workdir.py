"""Checkpoint folders keyed by the run's settings, so a changed config never resumes a stale checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

# Settings that may change without invalidating earlier checkpoints: more steps continue the same run.
RESUMABLE = ("steps", "checkpoint_every")


def keyed_workdir(base: str | os.PathLike, cfg: Mapping, resumable: Sequence[str] = RESUMABLE) -> Path:
    """``base/<12 hex digits of the config hash>``; keys in ``resumable`` are left out of the hash, so raising
    ``steps`` resumes from the latest checkpoint while any other change starts a fresh folder."""
    kept = {k: v for k, v in cfg.items() if k not in resumable}
    digest = hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(base) / digest
