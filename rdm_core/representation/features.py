"""Batched, gradient-free feature extraction with a frozen encoder."""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def extract_features(encoder: nn.Module, images: torch.Tensor | Iterable[torch.Tensor], batch: int = 500,
                     device: str | torch.device = "cpu") -> torch.Tensor:
    """Features [N, dim] (on the CPU) of images in [0, 1] [N, C, H, W], or of an iterable of such batches,
    computed in chunks of ``batch`` under inference mode on ``device``."""
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    chunks = images.split(batch) if isinstance(images, torch.Tensor) else images
    with torch.inference_mode():
        return torch.cat([encoder(chunk.to(device, non_blocking=True)).float().cpu() for chunk in chunks])
