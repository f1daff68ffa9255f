"""COCO image-caption pairs (SPEC 4.2): one pair per image, its first caption, ordered by image_id.

A COCO root holds ``annotations/captions_<split>.json`` and the images under ``<split>/`` (the official
layout, e.g. ``train2014/COCO_train2014_000000000009.jpg``). "First caption" is, as in the official iRDM
code, the image's first caption annotation in file order, stripped of leading and trailing whitespace
(inner whitespace is kept). Images are centre-cropped (ADM style) to
the generator's resolution and read as uint8.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .imagenet import DataRootError, adm_center_crop


def coco_pairs(root: str | os.PathLike, split: str, key: str) -> list[dict]:
    """[{"image_id", "file", "caption"}] of a COCO split, one per captioned image, ordered by image_id.

    ``key`` is the config key that set ``root``; a missing root, annotation file or image folder is raised
    at once as a :class:`DataRootError` naming it.
    """
    root = Path(root)

    def fail(problem: str) -> DataRootError:
        return DataRootError(f"config key {key!r} = {str(root)!r}: {problem}")

    if not root.is_dir():
        raise fail("no such folder (it must hold annotations/ and the image folders of COCO 2014)")
    ann_path = root / "annotations" / f"captions_{split}.json"
    if not ann_path.is_file():
        raise fail(f"no caption annotations {ann_path}")
    if not (root / split).is_dir():
        raise fail(f"no image folder {root / split}")
    try:
        ann = json.loads(ann_path.read_text())
        files = {img["id"]: img["file_name"] for img in ann["images"]}
        first: dict[int, str] = {}
        for a in ann["annotations"]:
            first.setdefault(a["image_id"], str(a["caption"]).strip())
    except (ValueError, KeyError, TypeError) as err:
        raise fail(f"{ann_path} is not a COCO captions file ({err!r})") from err
    orphans = sorted(set(first) - set(files))
    if orphans:
        raise fail(f"{ann_path}: captions for {len(orphans)} unknown image ids, e.g. {orphans[:3]}")
    return [{"image_id": i, "file": f"{split}/{files[i]}", "caption": first[i]}
            for i in sorted(first)]


def pairs_fingerprint(pairs: list[dict]) -> str:
    """sha256 over (image_id, file, caption) in order: identifies a prompt pool or reference."""
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(f"{p['image_id']}\0{p['file']}\0{p['caption']}\n".encode())
    return digest.hexdigest()


class CocoImages(Dataset):
    """uint8 images [3, size, size] (ADM centre crop) of COCO pairs, in pair order."""

    def __init__(self, root: str | os.PathLike, pairs: list[dict], size: int):
        self.root, self.pairs, self.size = Path(root), pairs, size

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> torch.Tensor:
        path = self.root / self.pairs[i]["file"]
        try:
            with Image.open(path) as image:
                crop = adm_center_crop(image, self.size)
        except (OSError, ValueError) as err:
            raise OSError(f"{path}: unreadable image ({err})") from err
        return torch.from_numpy(np.array(crop)).permute(2, 0, 1).contiguous()
