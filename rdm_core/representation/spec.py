"""Encoder specs and the registry: each encoder is a named spec with its preprocessing next to it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from torch import nn

POOLS = ("CLS", "AVG", "ATTN", "SUMMARY", "PATCH_MEAN", "FLAT")
SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one frozen encoder and feed it generator output in [0, 1]."""

    name: str
    paradigm: str                 # supervised, autoencoding, contrastive, masked, random, ...
    loader: str                   # key into LOADERS
    input_size: int               # native square resolution
    dim: int                      # pooled feature dimension
    pool: str                     # one of POOLS
    split: str                    # "train" or "heldout"
    resize: str = "bicubic"       # differentiable resize mode (bicubic uses antialias)
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    in_channels: int = 3
    checkpoint: str = ""          # weights id: HF repo, file name, or "" for pipeline-trained encoders
    options: dict = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        if self.pool not in POOLS:
            raise ValueError(f"encoder '{self.name}': pool must be one of {POOLS}, not '{self.pool}'")
        if self.split not in SPLITS:
            raise ValueError(f"encoder '{self.name}': split must be one of {SPLITS}, not '{self.split}'")


# A loader builds the backbone for a spec: (spec, weights_path or None) -> nn.Module mapping the
# preprocessed image batch to pooled features [B, spec.dim].
LOADERS: dict[str, Callable[[EncoderSpec, str | None], nn.Module]] = {}
REGISTRY: dict[str, EncoderSpec] = {}
BATTERY_MODULES = ("rdm_core.representation.mini", "rdm_core.representation.paper")


def register_loader(key: str):
    def deco(fn):
        LOADERS[key] = fn
        return fn
    return deco


def register(spec: EncoderSpec) -> EncoderSpec:
    if spec.name in REGISTRY and REGISTRY[spec.name] != spec:
        raise ValueError(f"encoder '{spec.name}' registered twice with different specs")
    REGISTRY[spec.name] = spec
    return spec


def known_encoders() -> dict[str, EncoderSpec]:
    """Every registered encoder of both batteries (importing the battery modules registers them)."""
    for module in BATTERY_MODULES:
        importlib.import_module(module)
    return REGISTRY


def get_spec(name: str) -> EncoderSpec:
    known_encoders()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown encoder '{name}'; known encoders: {', '.join(sorted(REGISTRY))}") from None


def freeze(module: nn.Module) -> nn.Module:
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return module
