"""Real images of a split, whatever the scale: mini MNIST digits or ImageNet folders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import torch

from ..io import load_tensors
from .mnist import load_split


@dataclass(frozen=True)
class RealSplit:
    """A split of real images in [0, 1], streamed in batches, with what identifies it."""

    batches: Callable[[int], Iterator[torch.Tensor]]
    count: int
    fingerprint: str
    preprocessing: str


def real_split(data_cfg: Mapping, split: str, mnist_path: str | None = None) -> RealSplit:
    """The ``split`` ('train' or 'val') of the configured data source."""
    if data_cfg["source"] == "mnist":
        images, _ = load_split(mnist_path, split)
        digest = load_tensors(mnist_path)[1]["data_sha256"]
        return RealSplit(lambda b: iter(images.split(b)), len(images), digest, "mnist uint8 / 255, 1x28x28")
    from .imagenet import ImageFolderData, data_fingerprint, iterate_batches

    cfg = data_cfg["imagenet"]
    data = ImageFolderData(cfg[split], key=f"data.imagenet.{split}", size=cfg["size"])
    return RealSplit(lambda b: (x.float() / 255 for x, _ in iterate_batches(data, b, workers=cfg["workers"])),
                     len(data), data_fingerprint(data), f"ADM centre crop {cfg['size']}, uint8 / 255")


class _FolderRows:
    """Random access to an ImageNet folder split: ``rows[idx]`` -> float images [len(idx), 3, S, S] in [0, 1]."""

    def __init__(self, data):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, idx: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.data[int(i)][0] for i in idx]).float() / 255


def real_rows(data_cfg: Mapping, split: str, mnist_path: str | None = None):
    """Random access by row index to the ``split`` of the configured data source (a tensor for MNIST)."""
    if data_cfg["source"] == "mnist":
        return load_split(mnist_path, split)[0]
    from .imagenet import ImageFolderData

    cfg = data_cfg["imagenet"]
    return _FolderRows(ImageFolderData(cfg[split], key=f"data.imagenet.{split}", size=cfg["size"]))
