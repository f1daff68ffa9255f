"""The encoders' precision policy, the one place every path takes it from (reference features, live training
features, evaluation features, the text tower).

``bf16`` (the paper's, as the official code): every encoder runs under bf16 autocast on CUDA except the FID
Inception, which stays in fp32 (bf16 would inflate its distances, SPEC 1.6); ``fp32``: no encoder ever autocasts.
On the CPU both are fp32, so the mini scale computes the same numbers under either.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

PRECISIONS = ("bf16", "fp32")
FP32_ENCODERS = frozenset({"inception"})


def check_precision(precision: str, what: str = "encoder precision (battery.precision)") -> str:
    """``precision`` if it is one of PRECISIONS (the encoders' and the generators' alike), else an error naming it."""
    if precision not in PRECISIONS:
        raise ValueError(f"{what} must be one of {PRECISIONS}, not {precision!r}")
    return precision


def autocast_dtype(name: str, device: str | torch.device, precision: str = "bf16") -> torch.dtype | None:
    """The autocast dtype encoder ``name`` runs under on ``device``: bf16, or None for plain fp32."""
    check_precision(precision)
    if precision == "bf16" and torch.device(device).type == "cuda" and name not in FP32_ENCODERS:
        return torch.bfloat16
    return None


def encoder_autocast(name: str, device: str | torch.device, precision: str = "bf16"):
    """The autocast context encoder ``name`` runs in on ``device`` under ``precision``; where that is fp32 it
    disables any enclosing autocast (none on devices without autocast, e.g. meta)."""
    enabled = autocast_dtype(name, device, precision) is not None
    kind = torch.device(device).type
    if not torch.amp.is_autocast_available(kind):
        return nullcontext()
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=enabled)
