"""Batched, gradient-free feature extraction with a frozen encoder."""

from __future__ import annotations

import torch
from torch import nn


def extract_features(encoder: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """Features [N, dim] of images in [0, 1] [N, C, H, W], computed in chunks of ``batch`` under inference mode."""
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    with torch.inference_mode():
        return torch.cat([encoder(chunk) for chunk in images.split(batch)])
