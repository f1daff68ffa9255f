"""COCO image-caption pairs from a fake COCO 2014 tree: first caption per image in file order (stripped, as the
official vita-epfl/RDM 391e274 rdm/data/coco.py build_coco_pairs), ordered by image_id."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rdm_core.data.coco import CocoImages, coco_pairs, pairs_fingerprint
from rdm_core.data.imagenet import DataRootError

KEY = "t2i.coco.root"


def fake_coco(root, split="train2014"):
    (root / "annotations").mkdir(parents=True)
    (root / split).mkdir()
    images = [{"id": i, "file_name": f"COCO_{split}_{i:012d}.jpg"} for i in (42, 7, 19)]
    for k, img in enumerate(images):
        Image.fromarray(np.full((30 + k, 40, 3), 10 * k, dtype=np.uint8)).save(root / split / img["file_name"])
    annotations = [{"id": 5, "image_id": 42, "caption": " A  dog\n on a bench.\n"},  # first of 42 in file order
                   {"id": 3, "image_id": 42, "caption": "A brown dog."},   # smaller id, but later in the file
                   {"id": 9, "image_id": 7, "caption": "Two cats. "},
                   {"id": 2, "image_id": 19, "caption": "A car."},
                   {"id": 1, "image_id": 19, "caption": "A red car."}]
    (root / "annotations" / f"captions_{split}.json").write_text(
        json.dumps({"images": images, "annotations": annotations}))
    return root


def test_first_caption_per_image_ordered_by_image_id(tmp_path):
    root = fake_coco(tmp_path / "coco")
    pairs = coco_pairs(root, "train2014", KEY)
    assert [p["image_id"] for p in pairs] == [7, 19, 42]
    # as the official build_coco_pairs gives on this tree (run in a scratch copy of 391e274): stripped only
    assert [p["caption"] for p in pairs] == ["Two cats.", "A car.", "A  dog\n on a bench."]
    assert pairs[0]["file"] == "train2014/COCO_train2014_000000000007.jpg"
    images = CocoImages(root, pairs, size=16)
    x = images[2]
    assert x.dtype.is_floating_point is False and tuple(x.shape) == (3, 16, 16)
    assert len(pairs_fingerprint(pairs)) == 64
    assert pairs_fingerprint(pairs) != pairs_fingerprint(pairs[::-1])


def test_missing_parts_fail_naming_the_config_key(tmp_path):
    with pytest.raises(DataRootError, match=KEY):
        coco_pairs(tmp_path / "nowhere", "train2014", KEY)
    root = fake_coco(tmp_path / "coco")
    with pytest.raises(DataRootError, match="captions_val2014.json"):
        coco_pairs(root, "val2014", KEY)
    (root / "annotations" / "captions_val2014.json").write_text("{}")
    (root / "val2014").mkdir()
    with pytest.raises(DataRootError, match="not a COCO captions file"):
        coco_pairs(root, "val2014", KEY)
    (root / "annotations" / "captions_val2014.json").write_text(
        json.dumps({"images": [], "annotations": [{"id": 1, "image_id": 3, "caption": "x"}]}))
    with pytest.raises(DataRootError, match="unknown image ids"):
        coco_pairs(root, "val2014", KEY)
