"""Paper-scale real images: an ImageNet-style folder, ADM centre-cropped, read as uint8 in sorted path order.

A root is either flat (images directly under it, label -1) or class-nested (``root/<class>/...``, label =
index of the class among the sorted class folder names). Files are listed in sorted path order, so for a
nested tree any prefix is class-ordered, as in the official MMDr14 (first 50k train features). Hidden
files and folders (leading dot) are skipped.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})   # matched case-insensitively


class DataRootError(ValueError):
    """A configured image root that is missing, not a folder, or holds no images."""


def adm_center_crop(pil_image: Image.Image, size: int = 256) -> Image.Image:
    """RGB ``size`` x ``size`` crop as in guided-diffusion: halve with BOX while the short side is at
    least ``2 * size``, BICUBIC-resize the short side to ``size``, then take the centre."""
    image = pil_image.convert("RGB")
    while min(image.size) >= 2 * size:
        image = image.resize(tuple(x // 2 for x in image.size), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize(tuple(round(x * scale) for x in image.size), resample=Image.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def _is_image(entry: os.DirEntry) -> bool:
    return entry.is_file() and not entry.name.startswith(".") and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES


def _images_under(folder: str) -> list[str]:
    """Image paths under ``folder`` (recursive), relative to it, POSIX-style, sorted."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(parent, folder)
        found += [Path(rel, f).as_posix() if rel != "." else f for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found)


class ImageFolderData(Dataset):
    """ADM-cropped uint8 images [3, size, size] and int labels from a flat or class-nested root.

    ``key`` is the config key that set ``root``; every root problem is raised at construction as a
    :class:`DataRootError` naming it. ``files`` holds the POSIX paths relative to ``root``.
    """

    def __init__(self, root: str | os.PathLike, key: str, size: int = 256):
        self.root, self.size = Path(root), size

        def fail(problem: str) -> DataRootError:
            return DataRootError(f"config key {key!r} = {str(root)!r}: {problem}")

        if not self.root.exists():
            raise fail("no such folder")
        if not self.root.is_dir():
            raise fail("not a folder")
        with os.scandir(self.root) as it:
            entries = [e for e in it if not e.name.startswith(".")]
        top = sorted(e.name for e in entries if _is_image(e))
        self.classes = sorted(e.name for e in entries if e.is_dir())
        if top and self.classes:
            raise fail(f"mixes {len(top)} top-level images with {len(self.classes)} class folders; "
                       "use a flat folder or one subfolder per class")
        if top:
            self.files, self.labels = top, [-1] * len(top)
        else:
            self.files, self.labels = [], []
            for label, name in enumerate(self.classes):
                inside = _images_under(str(self.root / name))
                if not inside:
                    raise fail(f"class folder {name!r} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
                self.files += [f"{name}/{f}" for f in inside]
                self.labels += [label] * len(inside)
        if not self.files:
            raise fail(f"holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}, any case)")

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path = self.root / self.files[i]
        try:
            with Image.open(path) as image:
                crop = adm_center_crop(image, self.size)
        except (OSError, ValueError) as err:
            raise OSError(f"{path}: unreadable image ({err})") from err
        return torch.from_numpy(np.array(crop)).permute(2, 0, 1).contiguous(), self.labels[i]


def data_fingerprint(dataset: ImageFolderData) -> str:
    """sha256 over each file's relative path and byte size, in dataset order (no pixels are read)."""
    digest = hashlib.sha256()
    for rel in dataset.files:
        digest.update(f"{rel}\0{os.stat(dataset.root / rel).st_size}\n".encode())
    return digest.hexdigest()


def iterate_batches(dataset: Dataset, batch: int, workers: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(uint8 images [B, 3, H, W], int64 labels [B]) in dataset order; the last batch may be short."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    return ((x, y) for x, y in DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=workers))
