"""Generator weights with metadata: a saved generator reloads and samples identically; real samples match labels."""

import json
import os

import pytest
import torch

from rdm_core.generators.flow import VelocityNet
from rdm_core.generators.io import generate_samples, load_generator, real_samples, save_generator, write_samples
from rdm_core.io import load_tensors
from rdm_core.generators.mini import OneStepGenerator


@pytest.mark.parametrize("kind", ["onestep", "flow"])
def test_roundtrip_samples_identically(tmp_path, kind):
    model, nfe = (OneStepGenerator(8, 10, 8), None) if kind == "onestep" else (VelocityNet.for_classes(10, 8), 2)
    save_generator(tmp_path / "g.safetensors", model, {"rule": "test"})
    loaded, meta = load_generator(tmp_path / "g.safetensors", kind)
    assert meta["architecture"]["kind"] == kind and meta["made_by"] == {"rule": "test"}
    a, la = generate_samples(model.eval(), 20, 3, nfe)
    b, lb = generate_samples(loaded, 20, 3, nfe)
    assert torch.equal(a, b) and torch.equal(la, torch.arange(20) % 10) and torch.equal(la, lb)
    with pytest.raises(ValueError, match="needs"):
        load_generator(tmp_path / "g.safetensors", "flow" if kind == "onestep" else "onestep")


@pytest.mark.parametrize("kind", ["onestep", "flow"])
def test_write_samples_saves_the_saved_generators_samples(tmp_path, kind):
    """What a training job writes beside its weights: the samples of the reloaded weights, self-described."""
    model, nfe = (OneStepGenerator(8, 10, 8), None) if kind == "onestep" else (VelocityNet.for_classes(10, 8), 2)
    save_generator(tmp_path / "g.safetensors", model, {"rule": "test"})
    write_samples(tmp_path / "s.safetensors", tmp_path / "g.safetensors", "gen_x", 20, 3, nfe)
    tensors, meta = load_tensors(tmp_path / "s.safetensors")
    images, labels = generate_samples(load_generator(tmp_path / "g.safetensors")[0], 20, 3, nfe)
    assert torch.equal(tensors["images"], images) and torch.equal(tensors["labels"], labels)
    assert meta["generator"] == "gen_x"
    assert {k: json.loads(meta[k]) for k in ("nfe", "made_by", "seed", "n")} == \
        {"nfe": nfe, "made_by": {"rule": "test"}, "seed": 3, "n": 20}


def test_real_samples_match_requested_classes():
    y = torch.arange(30) % 10
    x = y.float().view(-1, 1, 1, 1).expand(-1, 1, 28, 28) / 10
    images, labels = real_samples(x, y, 25, 10)
    assert torch.equal(labels, torch.arange(25) % 10)
    assert torch.equal(images[:, 0, 0, 0], labels.float() / 10)


def test_keyed_workdir_resumes_only_the_same_run(tmp_path):
    from rdm_core.train.workdir import keyed_workdir

    cfg = {"lr": 1e-3, "steps": 300, "checkpoint_every": 50, "encoders": ["a"]}
    data = tmp_path / "data.safetensors"
    data.write_bytes(b"one")
    runs = tmp_path / "runs"
    key = keyed_workdir(runs, cfg, [data])
    assert key == keyed_workdir(runs, {**cfg, "steps": 600, "checkpoint_every": 10}, [data])
    assert key != keyed_workdir(runs, {**cfg, "lr": 2e-3}, [data])
    assert key.parent == runs
    os.utime(data, ns=(data.stat().st_atime_ns, data.stat().st_mtime_ns + 10**9))  # rebuilt by Snakemake
    assert keyed_workdir(runs, cfg, [data]) != key


def test_keyed_workdir_reads_folders_file_by_file(tmp_path):
    from rdm_core.train.workdir import keyed_workdir

    renders = tmp_path / "renders"
    (renders / "a").mkdir(parents=True)
    (renders / "a" / "0.png").write_bytes(b"x")
    key = keyed_workdir(tmp_path / "runs", {}, [renders])
    assert key == keyed_workdir(tmp_path / "runs", {}, [renders])
    (renders / "a" / "1.png").write_bytes(b"y")
    assert keyed_workdir(tmp_path / "runs", {}, [renders]) != key
