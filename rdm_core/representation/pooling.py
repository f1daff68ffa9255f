"""Poolings of the paper panel: turn a backbone's tokens, feature map or latent into one vector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def cls_pool(tokens: torch.Tensor) -> torch.Tensor:
    """CLS: the first token of [B, N, D] tokens."""
    return tokens[:, 0]


def avg_pool(features: torch.Tensor, num_prefix_tokens: int = 0) -> torch.Tensor:
    """AVG: mean over patch tokens of [B, N, D] (prefix CLS/register tokens excluded), or spatial
    mean of a [B, C, H, W] feature map."""
    if features.ndim == 4:
        return features.mean(dim=(2, 3))
    return features[:, num_prefix_tokens:].mean(dim=1)


def attn_pool(tokens: torch.Tensor, head: nn.Module | None) -> torch.Tensor:
    """ATTN: the model's own attention-pooling (MAP) head applied to the final tokens."""
    if head is None:
        raise ValueError("ATTN pooling needs the model's attention-pool head, but the model has none "
                         "(create it with global_pool='map')")
    return head(tokens)


def summary_pool(output) -> torch.Tensor:
    """SUMMARY: the summary (CLS) vector of a RADIO-style output: an object with `.summary`, a
    (summary, features) tuple, or a dict of such outputs keyed 'backbone'."""
    if isinstance(output, dict):
        output = output["backbone"]
    summary = getattr(output, "summary", None)
    if summary is None:
        summary = output[0]
    return summary.flatten(1)


def patch_mean(latent: torch.Tensor, patch: int) -> torch.Tensor:
    """PATCH_MEAN: mean over non-overlapping patch x patch cells of a [B, C, H, W] latent, flattened
    to [B, C * (H / patch) * (W / patch)] in (C, h, w) order."""
    h, w = latent.shape[-2:]
    if h % patch or w % patch:
        raise ValueError(f"latent of size {h}x{w} is not divisible into {patch}x{patch} patches")
    return F.avg_pool2d(latent, kernel_size=patch, stride=patch).flatten(1)
