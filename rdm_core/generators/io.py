"""Saving, loading and sampling the mini class-conditional generators, with self-describing metadata.

A weights file is safetensors holding the model's state_dict; its metadata names the ``kind``
("onestep" or "flow"), the constructor settings and what made it (rule, config, steps), so a sampler
never has to guess the architecture. Samples use uniform labels ``arange(n) % n_classes`` (every class
equally often, sample i of every generator asks for the same class) and seeded noise.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

import torch
from torch import Tensor, nn

from ..io import load_tensors, save_tensors
from .flow import VelocityNet, sample, sample_noise
from .mini import OneStepGenerator

KINDS = ("onestep", "flow")


def architecture(model: nn.Module) -> dict:
    """The constructor settings that rebuild ``model``."""
    if isinstance(model, OneStepGenerator):
        return {"kind": "onestep", "z_dim": model.z_dim, "n_classes": model.n_classes, "width": model.width,
                "emb_dim": model.embed.embedding_dim}
    if isinstance(model, VelocityNet):
        return {"kind": "flow", "n_classes": model.cond.num_embeddings, "width": model.inp[1].out_channels,
                "emb_dim": model.cond.embedding_dim}
    raise TypeError(f"no saved format for {type(model).__name__}")


def build(arch: Mapping) -> nn.Module:
    if arch["kind"] == "onestep":
        return OneStepGenerator(arch["z_dim"], arch["n_classes"], arch["width"], arch["emb_dim"])
    if arch["kind"] == "flow":
        return VelocityNet.for_classes(arch["n_classes"], arch["width"], arch["emb_dim"])
    raise ValueError(f"generator kind must be one of {KINDS}, not {arch['kind']!r}")


def save_generator(path: str | os.PathLike, model: nn.Module, made_by: Mapping) -> None:
    """Weights + metadata {"architecture": ..., "made_by": ...} (atomic)."""
    save_tensors(path, model.state_dict(), {"architecture": architecture(model), "made_by": dict(made_by)})


def load_generator(path: str | os.PathLike, kind: str | None = None) -> tuple[nn.Module, dict]:
    """(model in eval mode, metadata) from a file written by :func:`save_generator`."""
    tensors, meta = load_tensors(path)
    if "architecture" not in meta:
        raise ValueError(f"{path}: no 'architecture' metadata; not a generator weights file")
    arch = json.loads(meta["architecture"])
    if kind is not None and arch["kind"] != kind:
        raise ValueError(f"{path}: a '{arch['kind']}' generator, this step needs '{kind}'")
    model = build(arch)
    model.load_state_dict(tensors)
    model.eval()
    return model, {"architecture": arch, "made_by": json.loads(meta.get("made_by", "{}"))}


def sample_labels(n: int, n_classes: int) -> Tensor:
    """Uniform labels: class i % n_classes for sample i."""
    return torch.arange(n) % n_classes


@torch.no_grad()
def generate_samples(model: nn.Module, n: int, seed: int, nfe: int | None = None, batch: int = 500
                     ) -> tuple[Tensor, Tensor]:
    """``n`` images [n, 1, 28, 28] in [0, 1] and their labels; noise from ``seed``; ``nfe`` Euler steps for a flow."""
    arch = architecture(model)
    labels = sample_labels(n, arch["n_classes"])
    gen = torch.Generator().manual_seed(seed)
    if arch["kind"] == "onestep":
        noise = torch.randn(n, arch["z_dim"], generator=gen)
        run = lambda z, y: model(z, y)  # noqa: E731
    else:
        if nfe is None:
            raise ValueError("sampling a flow model needs the number of steps (nfe)")
        noise = sample_noise(n, gen)
        run = lambda z, y: sample(model, z, y, nfe)  # noqa: E731
    images = torch.cat([run(z, y) for z, y in zip(noise.split(batch), labels.split(batch))])
    return images.float().clamp(0, 1), labels


def write_samples(path: str | os.PathLike, weights: str | os.PathLike, generator: str, n: int, seed: int,
                  nfe: int | None = None) -> None:
    """Save :func:`generate_samples` of the generator in ``weights`` to ``path`` as {"images", "labels"}, the
    metadata naming ``generator``, ``nfe``, what made the weights, ``seed`` and ``n`` (atomic). Training jobs call it
    on the weights they have just written, so the samples come from the saved model."""
    model, meta = load_generator(weights)
    images, labels = generate_samples(model, n, seed, nfe)
    save_tensors(path, {"images": images, "labels": labels},
                 {"generator": generator, "nfe": nfe, "made_by": meta["made_by"], "seed": seed, "n": n})


def real_samples(images: Tensor, labels: Tensor, n: int, n_classes: int) -> tuple[Tensor, Tensor]:
    """Real digits arranged like generated samples: sample i is a real digit of class i % n_classes (the
    k-th digit of that class for its k-th request, cycling), so pairs with a generator match labels."""
    want = sample_labels(n, n_classes)
    by_class = [torch.nonzero(labels == c).squeeze(1) for c in range(n_classes)]
    seen = [0] * n_classes
    rows = []
    for c in want.tolist():
        pool = by_class[c]
        if len(pool) == 0:
            raise ValueError(f"no real digit of class {c}")
        rows.append(int(pool[seen[c] % len(pool)]))
        seen[c] += 1
    return images[rows], want
