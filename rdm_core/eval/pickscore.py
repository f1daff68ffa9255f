"""PickScore (SPEC 2.4): ``yuvalkirstain/PickScore_v1`` with the CLIP-H processor, through transformers.

score(image, prompt) = logit_scale.exp() * cos(image embedding, text embedding). Images go to PIL uint8
before the processor (as in the official evaluation). Two prompt sets: the 499 Pick-a-Pic test prompts
bundled as ``data/prompts/pickapic_test_prompts.jsonl`` (the official iRDM protocol, generator contexts at
Qwen3 ctx_len 232) and COCO-val captions (the abstract's numbers). The mean over a prompt set is the Table 2 number;
head-to-heads compare two generators on matched noise (same prompt, same seed) with
:func:`rdm_core.eval.preference.win_rate`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ..data.npz import to_pixels
from ..io import checked_file

PICKAPIC_ROWS = 499
PICKAPIC_SHA256 = "e71adc6357b15b9752e3fa40bf5eb7ddd98e6deafc816e5448e72b00fd431a2a"  # vita-epfl/RDM 391e274


def load_pickapic(path: str | os.PathLike, key: str, sha256: str | None = PICKAPIC_SHA256) -> list[str]:
    """The Pick-a-Pic test prompts in file order (one JSON object a line with a "prompt"); with ``sha256`` the
    file must be the official one. ``key`` names the config key of the path."""
    path = checked_file(path, key, "Pick-a-Pic prompts (the project bundles them as "
                        "data/prompts/pickapic_test_prompts.jsonl)", sha256)
    prompts = [json.loads(line).get("prompt") for line in path.read_text().splitlines() if line.strip()]
    bad = [i for i, q in enumerate(prompts) if not isinstance(q, str) or not q]
    if bad:
        raise ValueError(f"{path}: rows {bad[:5]} have no prompt")
    return prompts


def _embedding(out) -> Tensor:
    """transformers returns a tensor (<= 4.x) or a model output whose pooled projection is the embedding."""
    return out if isinstance(out, Tensor) else out.pooler_output


class PickScore(nn.Module):
    """A CLIP model and its processor; :meth:`score` gives one PickScore per (image, prompt) pair."""

    def __init__(self, model: nn.Module, processor):
        super().__init__()
        self.model, self.processor = model.eval().requires_grad_(False), processor

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def score(self, images: np.ndarray | Sequence[Image.Image], prompts: Sequence[str]) -> Tensor:
        """PickScores [n] (CPU, fp32) of uint8 images [n, H, W, 3] (or PIL images) against their prompts."""
        pil = [im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im, dtype=np.uint8))
               for im in images]
        if len(pil) != len(prompts):
            raise ValueError(f"{len(pil)} images for {len(prompts)} prompts")
        pixels = self.processor(images=pil, return_tensors="pt")["pixel_values"].to(self.device)
        text = self.processor(text=list(prompts), padding=True, truncation=True, max_length=77, return_tensors="pt")
        img = _embedding(self.model.get_image_features(pixel_values=pixels))
        txt = _embedding(self.model.get_text_features(input_ids=text["input_ids"].to(self.device),
                                                     attention_mask=text["attention_mask"].to(self.device)))
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        return (self.model.logit_scale.exp() * (img * txt).sum(-1)).float().cpu()


def to_uint8(images: Tensor) -> np.ndarray:
    """Images in [0, 1] [n, 3, H, W] -> uint8 [n, H, W, 3] (rounded, as a PNG would store them)."""
    return to_pixels(images).numpy()


def load_pickscore(model_dir: str | os.PathLike, processor_dir: str | os.PathLike,
                   device: str | torch.device = "cpu") -> PickScore:
    """PickScore from local folders (the model's and the CLIP-H processor's); nothing is downloaded."""
    from transformers import AutoProcessor, CLIPModel

    model = CLIPModel.from_pretrained(str(model_dir), local_files_only=True, dtype=torch.float32).to(device)
    processor = AutoProcessor.from_pretrained(str(processor_dir), local_files_only=True)
    return PickScore(model, processor)


def mean_score(scores: Tensor) -> dict:
    """Mean PickScore of a prompt set with its standard error."""
    return {"pickscore": float(scores.mean()), "stderr": float(scores.std() / max(len(scores), 1) ** 0.5)
            if len(scores) > 1 else 0.0, "n": len(scores)}
