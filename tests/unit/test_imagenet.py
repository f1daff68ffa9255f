"""Paper-scale image folders: the ADM centre crop, flat and class-nested roots, root errors, fingerprints."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rdm_core.data.imagenet import (DataRootError, ImageFolderData, adm_center_crop, data_fingerprint,
                                   iterate_batches)

KEY = "data.imagenet.train"


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_image(path: Path, height: int = 20, width: int = 30, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(noise(height, width, seed)).save(path)
    return path


@pytest.mark.parametrize("width, height", [(256, 256), (300, 200), (200, 300), (1000, 600), (600, 1000),
                                           (64, 50), (1200, 513)])
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P"])
def test_crop_shape_and_mode(width, height, mode):
    image = Image.fromarray(noise(height, width)).convert(mode)
    out = adm_center_crop(image)
    assert out.size == (256, 256) and out.mode == "RGB"


@pytest.mark.parametrize("repeat", [1, 2, 4], ids=["no-box", "one-box", "two-box"])
@pytest.mark.parametrize("width, left", [(512, 128), (301, 22)])
def test_crop_matches_hand_reference(repeat, width, left):
    """Blocks of repeat x repeat equal pixels survive BOX halving exactly; at the short side 256 the
    BICUBIC step is the identity, so the result is the centre columns of the base image."""
    base = noise(256, width)
    big = base.repeat(repeat, axis=0).repeat(repeat, axis=1)
    out = np.asarray(adm_center_crop(Image.fromarray(big)))
    assert np.array_equal(out, base[:, left:left + 256])


def test_crop_resizes_short_side_bicubic():
    out = np.asarray(adm_center_crop(Image.new("RGB", (300, 200), (10, 200, 30)), size=64))
    assert out.shape == (64, 64, 3) and (out == [10, 200, 30]).all()


def test_flat_root(tmp_path):
    for name in ["b.png", "a.jpg", "c.JPEG", "d.webp", "e.jpeg"]:
        write_image(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    write_image(tmp_path / ".hidden.png")
    data = ImageFolderData(tmp_path, key=KEY, size=16)
    assert data.files == ["a.jpg", "b.png", "c.JPEG", "d.webp", "e.jpeg"] and data.labels == [-1] * 5
    x, y = data[1]
    assert x.dtype == torch.uint8 and x.shape == (3, 16, 16) and y == -1
    with Image.open(tmp_path / "b.png") as image:
        assert torch.equal(x, torch.from_numpy(np.array(adm_center_crop(image, 16))).permute(2, 0, 1))


def test_nested_root_order_labels_and_batches(tmp_path):
    files = ["dog/2.png", "dog/1.png", "ant/z.png", "cat/sub/0.png", "cat/a.png", "cat/b.png"]
    for i, rel in enumerate(files):
        write_image(tmp_path / rel, seed=i)
    data = ImageFolderData(tmp_path, key=KEY, size=8)
    assert data.classes == ["ant", "cat", "dog"]
    assert data.files == ["ant/z.png", "cat/a.png", "cat/b.png", "cat/sub/0.png", "dog/1.png", "dog/2.png"]
    assert data.labels == [0, 1, 1, 1, 2, 2] and len(data) == 6
    expected = torch.stack([data[i][0] for i in range(6)])
    for workers in (0, 1):
        batches = list(iterate_batches(data, 4, workers=workers))
        assert [len(x) for x, _ in batches] == [4, 2]
        images, labels = torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])
        assert images.dtype == torch.uint8 and torch.equal(images, expected)
        assert labels.tolist() == data.labels
    with pytest.raises(ValueError, match="batch"):
        iterate_batches(data, 0)


def _file_root(tmp_path):
    path = tmp_path / "train.tar"
    path.write_bytes(b"")
    return path


def _text_only_root(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    return tmp_path


def _empty_class_root(tmp_path):
    write_image(tmp_path / "cat" / "a.png")
    (tmp_path / "dog").mkdir()
    return tmp_path


def _mixed_root(tmp_path):
    write_image(tmp_path / "cat" / "a.png")
    write_image(tmp_path / "b.png")
    return tmp_path


@pytest.mark.parametrize("make, problem", [
    (lambda p: p / "missing", "no such folder"),
    (_file_root, "not a folder"),
    (lambda p: p, "holds no images"),
    (_text_only_root, "holds no images"),
    (_empty_class_root, "class folder 'dog' holds no images"),
    (_mixed_root, "mixes 1 top-level images with 1 class folders"),
])
def test_bad_roots_fail_fast_naming_key_and_path(tmp_path, make, problem):
    root = make(tmp_path)
    start = time.perf_counter()
    with pytest.raises(DataRootError, match=problem) as err:
        ImageFolderData(root, key=KEY)
    assert time.perf_counter() - start < 0.5
    assert isinstance(err.value, ValueError) and KEY in str(err.value) and str(root) in str(err.value)


def test_fingerprint_tracks_names_and_sizes(tmp_path):
    write_image(tmp_path / "a.png", seed=0)
    write_image(tmp_path / "b.png", seed=1)
    first = data_fingerprint(ImageFolderData(tmp_path, key=KEY))
    assert len(first) == 64 and data_fingerprint(ImageFolderData(tmp_path, key=KEY)) == first
    write_image(tmp_path / "b.png", height=40, seed=1)
    resized = data_fingerprint(ImageFolderData(tmp_path, key=KEY))
    assert resized != first
    (tmp_path / "b.png").rename(tmp_path / "c.png")
    assert data_fingerprint(ImageFolderData(tmp_path, key=KEY)) not in (first, resized)


def test_real_rows_random_access_matches_the_stream(tmp_path):
    from rdm_core.data.sources import real_rows, real_split

    for i in range(5):
        write_image(tmp_path / "n01" / f"{i}.png", seed=i)
    cfg = {"source": "imagenet", "imagenet": {"train": str(tmp_path), "val": str(tmp_path), "size": 8, "workers": 0}}
    rows = real_rows(cfg, "train")
    streamed = torch.cat(list(real_split(cfg, "train").batches(2)))
    assert len(rows) == 5
    torch.testing.assert_close(rows[torch.tensor([3, 0])], streamed[[3, 0]])
