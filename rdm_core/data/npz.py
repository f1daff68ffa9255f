"""ADM-style sample batches: ``arr_0`` uint8 images [N, H, W, C] (C = 1 or 3), optional ``arr_1`` labels [N]."""

from __future__ import annotations

import os
import zipfile
import zlib
from typing import Iterator

import numpy as np
import torch

from ..io import atomic_path


class NpzBatchError(ValueError):
    """An .npz sample batch that does not follow the ADM layout."""


def _read_batch(path: str | os.PathLike) -> tuple[np.ndarray, torch.Tensor | None]:
    """Read and validate a batch once: uint8 images [N, H, W, C] and int64 labels [N] (or None)."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with archive:
            members = sorted(archive.files)
            images = archive["arr_0"] if "arr_0" in members else None
            labels = archive["arr_1"] if "arr_1" in members else None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise NpzBatchError(f"{path}: not a readable .npz file ({err})") from err
    if images is None:
        raise NpzBatchError(f"{path}: no 'arr_0' image array (found {members or 'nothing'})")
    if images.dtype.kind not in "ui":
        raise NpzBatchError(f"{path}: 'arr_0' must hold uint8 pixels, got dtype {images.dtype}")
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise NpzBatchError(f"{path}: 'arr_0' must be [N, H, W, C] with C = 1 or 3, got shape {images.shape}")
    if images.dtype != np.uint8 and images.size and (images.min() < 0 or images.max() > 255):
        raise NpzBatchError(f"{path}: 'arr_0' values must lie in [0, 255], "
                            f"found [{images.min()}, {images.max()}]")
    if labels is None:
        return images.astype(np.uint8, copy=False), None
    if labels.dtype.kind not in "ui" or labels.ndim != 1:
        raise NpzBatchError(f"{path}: 'arr_1' must be 1-D integer labels, got {labels.dtype} {labels.shape}")
    if len(labels) != len(images):
        raise NpzBatchError(f"{path}: {len(labels)} labels in 'arr_1' for {len(images)} images in 'arr_0'")
    return images.astype(np.uint8, copy=False), torch.from_numpy(labels.astype(np.int64))


def _to_float(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [B, H, W, C] to contiguous float32 [B, C, H, W] in [0, 1]."""
    chw = torch.from_numpy(pixels).permute(0, 3, 1, 2)
    return chw.to(torch.float32, memory_format=torch.contiguous_format).div_(255)


def load_npz_batch(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images float32 [N, C, H, W] in [0, 1] and int64 labels [N] (or None) from an ADM-style batch.

    Holds the whole batch as float (4 bytes a pixel); use :func:`iter_npz_batches` at paper scale.
    """
    images, labels = _read_batch(path)
    return _to_float(images), labels


def iter_npz_batches(path: str | os.PathLike, batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Validate ``path`` now, then stream (float32 images [B, C, H, W] in [0, 1], int64 labels [B] or None).

    Only the uint8 pixels are held whole (the .npz member is read once); floats exist one chunk at a time.
    """
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    images, labels = _read_batch(path)
    return ((_to_float(images[s:s + batch]), None if labels is None else labels[s:s + batch])
            for s in range(0, len(images), batch))


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] [N, C, H, W] -> uint8 [N, H, W, C] (clamped and rounded, as the batch stores them)."""
    return images.detach().cpu().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1)


def save_npz_batch(path: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor | None = None) -> None:
    """Write images in [0, 1] [N, C, H, W] (or uint8 pixels [N, H, W, C] from :func:`to_pixels`) and optional
    labels as an ADM-style batch, atomically."""
    pixels = images if images.dtype == torch.uint8 else None
    if pixels is None and (images.ndim != 4 or images.shape[1] not in (1, 3)):
        raise ValueError(f"{path}: images must be [N, C, H, W] with C = 1 or 3, got {tuple(images.shape)}")
    if pixels is not None and (images.ndim != 4 or images.shape[-1] not in (1, 3)):
        raise ValueError(f"{path}: uint8 pixels must be [N, H, W, C] with C = 1 or 3, got {tuple(images.shape)}")
    if labels is not None and labels.shape != (len(images),):
        raise ValueError(f"{path}: labels must be [{len(images)}], got {tuple(labels.shape)}")
    arrays = {"arr_0": (to_pixels(images) if pixels is None else pixels).numpy()}
    if labels is not None:
        arrays["arr_1"] = labels.detach().cpu().to(torch.int64).numpy()
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
