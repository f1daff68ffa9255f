"""The frozen reference: feature cache, Nystrom bundle and floor, evaluation banks, on-disk round trip."""

from __future__ import annotations

import pytest
import torch

from rdm_core.compare.kernels import median_sigma
from rdm_core.compare.mmd import irdm_loss
from rdm_core.io import CacheError, read_json
from rdm_core.reference.banks import FILES, FLOORS_JSON, MissingReferenceError, build_eval_bank, reference_dir
from rdm_core.reference.build import (build_reference, load_reference, nystrom_floor, reference_metadata,
                                      save_reference)
from rdm_core.reference.cache import cached_features, encoder_weights, feature_metadata
from rdm_core.representation.mini import efficientnet_lite0_path
from rdm_core.representation.spec import EncoderSpec, get_spec

D = 8
CFG = {"sigma_n": 500, "landmarks": 48, "kmeans_iters": 5, "fit_n": 1000, "k_rr_n": 1000, "floor_draws": 4,
       "floor_n": 200, "sw_n": 256, "rff_features": 512, "rff_n": 400}
SPEC = EncoderSpec(name="toy_enc", paradigm="random", loader="none", input_size=28, dim=D, pool="FLAT",
                   split="train", in_channels=1)


def gaussian(n: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, D, generator=torch.Generator().manual_seed(seed)) + shift


def meta(count: int, data: str = "train-hash", seed: int = 0) -> dict:
    return feature_metadata(SPEC, "weights-hash", data, count, seed, "synthetic Gaussian")


@pytest.fixture(scope="module")
def feats():
    return gaussian(1500, 1), gaussian(500, 2)


@pytest.fixture(scope="module")
def ref(feats):
    return build_reference(*feats, CFG, seed=0)


@pytest.fixture(scope="module")
def ref_meta():
    return reference_metadata(meta(1500), meta(500, "val-hash"), CFG, seed=0)


@pytest.fixture(scope="module")
def ref_dir(tmp_path_factory, ref, ref_meta):
    directory = reference_dir(tmp_path_factory.mktemp("scale"), "toy_enc")
    save_reference(directory, ref, ref_meta)
    return directory


# --- features cache ----------------------------------------------------------------------------------

def test_feature_metadata_describes_encoder_and_data():
    m = meta(10)
    assert m["encoder"] == "toy_enc" and m["weights_sha256"] == "weights-hash" and m["data_sha256"] == "train-hash"
    assert m["preprocessing"] == {"images": "synthetic Gaussian", "input_size": 28, "in_channels": 1,
                                  "resize": "bicubic", "mean": [0.5], "std": [0.5], "pool": "FLAT"}
    assert (m["count"], m["seed"], m["dim"]) == (10, 0, D)


def test_cached_features_computes_once_then_reuses(tmp_path):
    path, x = tmp_path / "f.safetensors", gaussian(10, 0)
    calls = []
    first = cached_features(path, lambda: calls.append(1) or x, meta(10))
    again = cached_features(path, lambda: pytest.fail("recomputed a valid cache"), meta(10))
    assert calls == [1] and torch.equal(first, x) and torch.equal(again, x)


def test_cached_features_refuses_mismatch_unless_rebuild(tmp_path):
    path = tmp_path / "f.safetensors"
    cached_features(path, lambda: gaussian(10, 0), meta(10))
    other = meta(10, data="another-hash")
    with pytest.raises(CacheError, match=r"f\.safetensors.*data_sha256"):
        cached_features(path, lambda: gaussian(10, 1), other)
    rebuilt = cached_features(path, lambda: gaussian(10, 1), other, rebuild=True)
    assert torch.equal(rebuilt, gaussian(10, 1))
    assert torch.equal(cached_features(path, lambda: pytest.fail("stale"), other), rebuilt)


def test_cached_features_refuses_truncated_file(tmp_path):
    path = tmp_path / "f.safetensors"
    cached_features(path, lambda: gaussian(10, 0), meta(10))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CacheError, match=r"f\.safetensors"):
        cached_features(path, lambda: gaussian(10, 0), meta(10))
    assert torch.equal(cached_features(path, lambda: gaussian(10, 0), meta(10), rebuild=True), gaussian(10, 0))


def test_cached_features_checks_shape(tmp_path):
    with pytest.raises(ValueError, match="need \\(10, 8\\)"):
        cached_features(tmp_path / "f.safetensors", lambda: gaussian(9, 0), meta(10))


# --- the reference -----------------------------------------------------------------------------------

def test_sigma_is_the_seeded_median_heuristic(feats, ref):
    assert ref["sigma"] == median_sigma(feats[0], n_sub=CFG["sigma_n"], seed=0)
    assert ref["bundle"].sigma == ref["sigma"] and ref["bundle"].Z.shape == (CFG["landmarks"], D)


def test_floor_positive_and_small_against_a_shifted_distribution(feats, ref):
    floor, bundle = ref["nystrom_floor"], ref["bundle"]
    assert floor > 0
    shifted = irdm_loss(gaussian(CFG["floor_n"], 7, shift=0.5).double(), bundle).item()
    assert shifted > 5 * floor
    # the floor is the mean of the same loss on seeded val draws
    again = nystrom_floor(feats[1], bundle, CFG["floor_n"], CFG["floor_draws"], seed=0)
    assert again == pytest.approx(floor, rel=1e-12)
    single = nystrom_floor(feats[1][:CFG["floor_n"]], bundle, CFG["floor_n"], 1)
    assert single == pytest.approx(irdm_loss(feats[1][:CFG["floor_n"]].double(), bundle).item(), rel=1e-9)


def test_eval_bank_subsets_and_floors(feats, ref):
    train, val = feats
    bank = ref["bank"]
    idx = bank.sw_train_idx
    assert bank.n == CFG["sw_n"] and idx.unique().numel() == CFG["sw_n"] and int(idx.max()) < train.shape[0]
    assert torch.equal(bank.sw_train, train[idx]) and bank.sw_val.shape == (CFG["sw_n"], D)
    assert bank.sw_floor == pytest.approx(bank.sw.score(bank.sw_val))
    assert bank.sw_floor > 0 and bank.rff_floor > 0
    assert bank.rff.W.shape == (D, CFG["rff_features"]) and bank.rff_mu.dtype == torch.float64
    with pytest.raises(ValueError, match="600 val rows"):
        build_eval_bank(train, val, ref["sigma"], 600, 64, 100)


def test_round_trip_and_floors_json(ref, ref_dir, ref_meta):
    loaded = load_reference(ref_dir, ref_meta)
    for key in ("Z", "alpha"):
        assert torch.equal(getattr(loaded["bundle"], key), getattr(ref["bundle"], key))
    assert (loaded["bundle"].k_rr, loaded["sigma"]) == (ref["bundle"].k_rr, ref["sigma"])
    assert loaded["nystrom_floor"] == ref["nystrom_floor"]
    a, b = loaded["bank"], ref["bank"]
    assert torch.equal(a.sw.sorted_proj, b.sw.sorted_proj) and torch.equal(a.sw_train_idx, b.sw_train_idx)
    assert torch.equal(a.rff.W, b.rff.W) and torch.equal(a.rff_mu, b.rff_mu)
    assert (a.sw_floor, a.rff_floor) == (b.sw_floor, b.rff_floor)
    floors = read_json(ref_dir / FLOORS_JSON)
    assert floors == {"nystrom": ref["nystrom_floor"], "sw": b.sw_floor, "rff": b.rff_floor,
                      "sigma": ref["sigma"], "encoder": "toy_enc"}


def test_metadata_mismatch_refused_naming_the_file(ref_dir, ref_meta):
    with pytest.raises(CacheError, match=r"nystrom\.safetensors.*weights_sha256"):
        load_reference(ref_dir, {**ref_meta, "weights_sha256": "other-weights"})
    changed = reference_metadata(meta(1500), meta(500, "val-hash"), {**CFG, "landmarks": 64}, seed=0)
    with pytest.raises(CacheError, match="config"):
        load_reference(ref_dir, changed)


def test_reference_metadata_refuses_features_of_different_encoders():
    other = {**meta(500), "weights_sha256": "other"}
    with pytest.raises(ValueError, match="weights_sha256"):
        reference_metadata(meta(1500), other, CFG, 0)
    with pytest.raises(ValueError, match="rff_n"):
        reference_metadata(meta(1500), meta(500), {k: v for k, v in CFG.items() if k != "rff_n"}, 0)


def test_truncated_or_missing_reference_refused(tmp_path, ref, ref_meta):
    directory = tmp_path / "toy_enc"
    save_reference(directory, ref, ref_meta)
    path = directory / FILES["sw_bank"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CacheError, match=r"sw_bank\.safetensors"):
        load_reference(directory, ref_meta)
    (directory / FILES["sw_bank"]).unlink()
    with pytest.raises(MissingReferenceError, match=r"sw_bank\.safetensors is missing.*snakemake reference_all"):
        load_reference(directory, ref_meta)


def test_encoder_weights_of_mini_models(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"encoders/sup_cnn\.safetensors is missing.*reference_all"):
        encoder_weights(get_spec("sup_cnn"), tmp_path)
    assert encoder_weights(get_spec("effnet_lite0"), tmp_path) == efficientnet_lite0_path()
