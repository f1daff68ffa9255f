"""A frozen encoder: differentiable preprocessing, backbone, pooled features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import precision as policy
from .spec import LOADERS, EncoderSpec, freeze


def resize_tf1_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """TF-1 bilinear resize (align_corners=False, no half-pixel centres, no antialias), as the TF FID
    Inception graph resizes: output pixel i samples input coordinate i * in / out."""

    def axis(n_in: int):
        src = torch.arange(size, device=x.device, dtype=x.dtype) * (n_in / size)
        lo = src.floor().long().clamp(max=n_in - 1)
        return lo, (lo + 1).clamp(max=n_in - 1), src - lo.to(x.dtype)

    top, bottom, wy = axis(x.shape[-2])
    left, right, wx = axis(x.shape[-1])
    rows = x[..., top, :] + (x[..., bottom, :] - x[..., top, :]) * wy.view(-1, 1)
    return rows[..., left] + (rows[..., right] - rows[..., left]) * wx


def preprocess(x: torch.Tensor, spec: EncoderSpec) -> torch.Tensor:
    """Map generator output in [0, 1] (N, C, H, W) to the encoder's native input, differentiably.

    Grey images are repeated to the encoder's channel count; the resize is bicubic with antialias
    (or the spec's mode, "tf1_bilinear" for the FID Inception); then the encoder's own mean/std
    normalisation.
    """
    if x.shape[1] != spec.in_channels:
        if x.shape[1] != 1:
            raise ValueError(f"encoder '{spec.name}' takes {spec.in_channels} channels, got {x.shape[1]}")
        x = x.expand(-1, spec.in_channels, -1, -1)
    if spec.resize == "tf1_bilinear":
        x = resize_tf1_bilinear(x, spec.input_size)
    elif x.shape[-1] != spec.input_size or x.shape[-2] != spec.input_size:
        antialias = spec.resize in ("bicubic", "bilinear")
        x = F.interpolate(x, size=(spec.input_size, spec.input_size), mode=spec.resize,
                          align_corners=False if spec.resize != "nearest" else None, antialias=antialias)
    mean = torch.tensor(spec.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


class Encoder(nn.Module):
    """phi: images in [0, 1] -> pooled fp32 features [N, spec.dim]; parameters frozen. The preprocessing and
    backbone run under the precision policy (:mod:`~rdm_core.representation.precision`) for ``precision``."""

    def __init__(self, spec: EncoderSpec, backbone: nn.Module, precision: str = "bf16"):
        super().__init__()
        self.spec, self.precision = spec, policy.check_precision(precision)
        self.backbone = freeze(backbone)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with policy.encoder_autocast(self.spec.name, x.device, self.precision):
            return self.backbone(preprocess(x, self.spec)).float()

    def train(self, mode: bool = True):  # frozen: always in eval mode
        return super().train(False)


def build_encoder(spec: EncoderSpec, weights: str | None = None, precision: str = "bf16") -> Encoder:
    """Build a spec's backbone through its registered loader and wrap it, to run under ``precision``."""
    try:
        loader = LOADERS[spec.loader]
    except KeyError:
        raise KeyError(f"encoder '{spec.name}': no loader '{spec.loader}' registered") from None
    return Encoder(spec, loader(spec, weights), precision)
