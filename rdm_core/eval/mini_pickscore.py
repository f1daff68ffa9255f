"""Mini PickScore: an image-text score from a held-out tiny CLIP-style model (SPEC 2.4, mini analogue).

Trained contrastively on captioned compositions of the val digits (never on the train digits that the
teacher and the reference use) and used by no objective. Its text side is its own: word embeddings per
position of the caption (order-aware, so "a red three and a blue five" differs from its swap), not the
objective's text tower. Score = logit_scale * cos(image, text), as PickScore.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.compose import WORDS
from ..io import load_tensors, save_tensors
from ..optim import FusedAdamW

MAX_WORDS = 10
VOCAB = {w: i + 1 for i, w in enumerate(WORDS)}  # 0 = padding


def tokenize(captions: Sequence[str]) -> Tensor:
    """Word ids [n, MAX_WORDS] (0-padded); a word outside the caption vocabulary is an error."""
    out = torch.zeros(len(captions), MAX_WORDS, dtype=torch.long)
    for i, caption in enumerate(captions):
        words = caption.split()
        unknown = [w for w in words if w not in VOCAB]
        if unknown or len(words) > MAX_WORDS:
            raise ValueError(f"caption {caption!r}: unknown words {unknown} or more than {MAX_WORDS} words")
        out[i, :len(words)] = torch.tensor([VOCAB[w] for w in words])
    return out


class TinyCLIP(nn.Module):
    """Image tower (conv, layout-preserving flatten) and text tower (per-position word embeddings) to ``dim``."""

    def __init__(self, dim: int = 64, width: int = 16):
        super().__init__()
        self.image = nn.Sequential(nn.Conv2d(3, width, 3, 2, 1), nn.ReLU(), nn.Conv2d(width, 2 * width, 3, 2, 1),
                                   nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                                   nn.Linear(2 * width * 16, dim))
        self.words = nn.Embedding(len(VOCAB) + 1, 16, padding_idx=0)
        self.text = nn.Sequential(nn.Flatten(), nn.Linear(16 * MAX_WORDS, 128), nn.ReLU(), nn.Linear(128, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))

    def embed_images(self, images: Tensor) -> Tensor:
        return F.normalize(self.image(2 * images.float() - 1), dim=1)

    def embed_text(self, tokens: Tensor) -> Tensor:
        return F.normalize(self.text(self.words(tokens)), dim=1)

    def scale(self) -> Tensor:
        return self.logit_scale.clamp(max=math.log(100.0)).exp()


def box_blur(images: Tensor, size: int) -> Tensor:
    """Each pixel the mean of its ``size`` x ``size`` neighbourhood (odd ``size``; the border averages what it has)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the blur size must be a positive odd number, got {size}")
    return F.avg_pool2d(images, size, 1, size // 2, count_include_pad=False)


def train_tiny_clip(images: Tensor, captions: Sequence[str], steps: int, batch: int, lr: float, seed: int,
                    dim: int = 64, blur: int = 0) -> TinyCLIP:
    """Symmetric InfoNCE on (image, caption) pairs; rows sharing a caption are all positives. With ``blur`` > 0
    images of the batch blurred by :func:`box_blur` join each caption's candidates as negatives (a smear matches
    no caption), so a blurred digit scores below a legible one (the blur of the batch's first quarter)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = TinyCLIP(dim)
    tokens = tokenize(captions)
    ids = torch.unique(tokens, dim=0, return_inverse=True)[1]
    opt = FusedAdamW(model.parameters(), lr=lr, weight_decay=0.0)
    for _ in range(steps):
        rows = torch.randint(0, len(images), (batch,), generator=gen)
        x = images[rows].float() / 255.0 if images.dtype == torch.uint8 else images[rows]
        text = model.embed_text(tokens[rows])
        logits = model.scale() * model.embed_images(x) @ text.T
        same = (ids[rows, None] == ids[None, rows]).float()
        target = same / same.sum(1, keepdim=True)
        per_text = logits.T
        if blur:
            blurred = box_blur(x[:max(1, len(x) // 4)], blur)  # a quarter of the batch: a quarter more image work
            per_text = torch.cat([per_text, model.scale() * text @ model.embed_images(blurred).T], 1)
            target_text = torch.cat([target, target.new_zeros(len(target), len(blurred))], 1)
        else:
            target_text = target
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(per_text, target_text))  # `same` is symmetric
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.inference_mode()
def pickscore(model: TinyCLIP, images: Tensor, captions: Sequence[str], batch: int = 512) -> Tensor:
    """Per-image score logit_scale * cos(image, its caption) [n]; images in [0, 1]."""
    tokens = tokenize(captions)
    out = [model.scale() * (model.embed_images(x) * model.embed_text(t)).sum(1)
           for x, t in zip(images.split(batch), tokens.split(batch))]
    return torch.cat(out)


def save_tiny_clip(path: str | os.PathLike, model: TinyCLIP, made_by: dict) -> None:
    save_tensors(path, model.state_dict(), {"kind": "mini_pickscore", "dim": model.image[-1].out_features,
                                            "made_by": made_by})


def load_tiny_clip(path: str | os.PathLike) -> TinyCLIP:
    tensors, meta = load_tensors(path, {"kind": "mini_pickscore"})
    model = TinyCLIP(int(meta["dim"]))
    model.load_state_dict(tensors)
    return model.eval()
