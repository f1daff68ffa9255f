"""Evaluation: SW_rK and MMDrK ratios against frozen banks, the score table and the ``rdm score`` command."""

from __future__ import annotations

import re
import warnings

import numpy as np
import ot
import pytest
import torch
from torch import nn

from rdm_core.cli import main
from rdm_core.compare.rff import mmd2_rff
from rdm_core.compare.sliced import sw2, sw_directions
from rdm_core.data.npz import save_npz_batch
from rdm_core.io import read_json
from rdm_core.eval import TooFewSamplesError, mmd_ratios, mmd_rK, score_images, score_table, sw_ratios, sw_rK
from rdm_core.reference.banks import build_eval_bank, reference_dir
from rdm_core.reference.build import build_reference, reference_metadata, save_reference
from rdm_core.reference.cache import feature_metadata, load_battery_encoder
from rdm_core.representation.encoder import Encoder
from rdm_core.representation.features import extract_features
from rdm_core.representation.mini import build_mini_model, save_encoder_weights
from rdm_core.representation.spec import EncoderSpec, get_spec

D, N_BANK = 12, 600


def gaussian(n: int, seed: int, d: int = D) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def bank():
    return build_eval_bank(gaussian(2000, 1), gaussian(N_BANK, 2), sigma=float(np.sqrt(2 * D)), sw_n=N_BANK,
                           rff_features=1024, rff_n=N_BANK)


def test_fresh_draw_scores_one_and_a_shifted_one_well_above(bank):
    fresh = [f"fresh{s}" for s in range(5)]  # one draw's ratio fluctuates by about 0.1: average five
    gens = {**{f: gaussian(N_BANK, 10 + i) for i, f in enumerate(fresh)},
            "shifted": gaussian(N_BANK, 4) + 0.5, "noisy": gaussian(N_BANK, 5) * 1.5}
    banks = dict.fromkeys(gens, bank)
    sw, mmd = sw_ratios(gens, banks), mmd_ratios(gens, banks)
    assert abs(sw_rK(sw, fresh) - 1) < 0.15 and sw["shifted"] > 2 and sw["noisy"] > 2
    assert abs(mmd_rK(mmd, fresh) - 1) < 0.3 and mmd["shifted"] > 5 and mmd["noisy"] > 2


def test_sw_ratio_equals_a_direct_slow_computation(bank):
    gen = gaussian(N_BANK, 6) * 1.2
    theta = sw_directions(D, 1024, seed=0).double().numpy()
    train, val = bank.sw_train.double().numpy(), bank.sw_val.double().numpy()
    slow = (ot.sliced_wasserstein_distance(gen.double().numpy(), train, projections=theta.T, p=2)
            / ot.sliced_wasserstein_distance(val, train, projections=theta.T, p=2))
    assert sw_ratios({"e": gen}, {"e": bank})["e"] == pytest.approx(slow, rel=1e-4)


def test_cached_bank_equals_computing_both_sides(bank):
    gen = gaussian(N_BANK + 50, 7) + 0.2
    direct = sw2(gen[:N_BANK], bank.sw_train) / sw2(bank.sw_val, bank.sw_train)
    assert sw_ratios({"e": gen}, {"e": bank})["e"] == pytest.approx(direct, rel=1e-6)


def test_fewer_generated_rows_are_refused_unless_allowed(bank):
    gen = gaussian(200, 8)
    with pytest.raises(TooFewSamplesError, match=f"200 generated samples, fewer than the {N_BANK} rows"):
        sw_ratios({"e": gen}, {"e": bank})
    r = sw_ratios({"e": gen}, {"e": bank}, allow_fewer=True)["e"]  # every set truncated to the common size
    assert r == pytest.approx(sw2(gen, bank.sw_train[:200]) / sw2(bank.sw_val[:200], bank.sw_train[:200]), rel=1e-6)


def test_mmd_ratio_is_rff_mmd2_over_the_floor(bank):
    gen = gaussian(N_BANK, 9) + 0.3
    raw = float(mmd2_rff(gen.double(), bank.rff_mu, bank.rff))
    assert mmd_ratios({"e": gen}, {"e": bank})["e"] == pytest.approx(raw / bank.rff_floor, rel=1e-6)


def test_battery_means_are_arithmetic():
    ratios = {"a": 1.0, "b": 2.0, "c": 6.0}
    assert sw_rK(ratios) == pytest.approx(3.0) and mmd_rK(ratios) == pytest.approx(3.0)
    assert sw_rK(ratios, ["b", "c"]) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        sw_rK({})


def test_score_table_stars_heldout_and_ends_with_the_mean():
    rows = {"model": {"a": 1.0, "b": 2.0, "c": 6.0}, "real": {"a": 1.0, "b": 1.0, "c": 1.0}}
    table = score_table(rows, ["c", "a", "b"], heldout={"a"})
    assert list(table.columns) == ["c", "a*", "b", "SW_r3"] and list(table.index) == ["model", "real"]
    assert table.loc["model", "SW_r3"] == pytest.approx(3.0) and table.loc["model", "c"] == 6.0
    assert score_table(rows, ["a", "b"], metric="MMDr").columns[-1] == "MMDr2"


def test_score_images_extracts_features_per_encoder():
    torch.manual_seed(0)
    specs = {s: EncoderSpec(name=s, paradigm="random", loader="none", input_size=8, dim=6, pool="FLAT",
                            split=split, in_channels=1) for s, split in (("e1", "train"), ("e2", "heldout"))}
    encoders = {n: Encoder(spec, nn.Sequential(nn.Flatten(), nn.Linear(64, 6))) for n, spec in specs.items()}
    real = torch.rand(3000, 1, 8, 8)  # 1000-row banks: fresh real's ratio is within about 0.15 of 1 at this size
    banks = {n: build_eval_bank(extract_features(e, real[:2000]), extract_features(e, real[2000:]), 1.0, 1000, 256,
                                1000) for n, e in encoders.items()}
    out = score_images(torch.rand(1000, 1, 8, 8), encoders, banks)
    assert out["heldout"] == ["e2"] and out["K"] == 2 and out["n_generated"] == 1000
    assert abs(out["sw_rK"] - 1) < 0.2 and out["sw_rK_heldout"] == pytest.approx(out["sw_ratios"]["e2"])
    dark = score_images(torch.rand(1000, 1, 8, 8) * 0.5, encoders, banks)
    assert dark["sw_rK"] > 2 and dark["mmd_rK"] > out["mmd_rK"]


# --- the rdm command ----------------------------------------------------------------------------------

BATTERY = ["sup_mlp", "mae_mlp"]  # one train, one held-out mini encoder: small MLPs
CFG = {"sigma_n": 300, "landmarks": 16, "kmeans_iters": 3, "fit_n": 300, "k_rr_n": 300, "floor_draws": 2,
       "floor_n": 100, "sw_n": 150, "rff_features": 256, "rff_n": 150}


def digits(n: int, seed: int) -> torch.Tensor:
    """Blobby synthetic 'digits' in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    blobs = torch.rand(n, 1, 7, 7, generator=g)
    return nn.functional.interpolate(blobs, size=28, mode="bilinear").clamp(0, 1)


@pytest.fixture(scope="module")
def resources(tmp_path_factory):
    """A tiny mini scale: untrained encoder weights and their references."""
    root = tmp_path_factory.mktemp("resources")
    scale_dir = root / "mini"
    real = digits(450, 0)
    for name in BATTERY:
        save_encoder_weights(scale_dir / "encoders" / f"{name}.safetensors", name, build_mini_model(name, 0).state_dict())
        enc, sha = load_battery_encoder(name, scale_dir)
        train, val = extract_features(enc, real[:300]), extract_features(enc, real[300:])
        metas = [feature_metadata(get_spec(name), sha, h, len(x), 0, "synthetic") for h, x in
                 (("t", train), ("v", val))]
        save_reference(reference_dir(scale_dir, name), build_reference(train, val, CFG, 0),
                       reference_metadata(*metas, CFG, 0))
    return root


def run(capsys, *args):
    code = main(["score", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_the_table(resources, tmp_path, capsys):
    save_npz_batch(tmp_path / "s.npz", digits(150, 1))
    code, out, err = run(capsys, tmp_path / "s.npz", "--scale", "mini", "--resources", resources,
                         "--battery", *BATTERY, "--json", tmp_path / "m.json")
    assert code == 0, err
    assert "sup_mlp" in out and "mae_mlp*" in out and "SW_r2 = " in out and "MMDr2 = " in out
    assert "held-out mean" in out and (tmp_path / "m.json").is_file()


def test_cli_errors_exit_2_with_one_line(resources, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    code, _, err = run(capsys, bad, "--resources", resources, "--battery", *BATTERY)
    assert code == 2 and "bad.npz" in err and err.count("\n") == 1
    save_npz_batch(tmp_path / "s.npz", digits(20, 2))
    code, _, err = run(capsys, tmp_path / "s.npz", "--resources", tmp_path / "empty")
    assert code == 2 and "snakemake reference_all" in err and err.count("\n") == 1
    code, _, err = run(capsys, tmp_path / "s.npz", "--resources", resources, "--battery", "sup_mlp", "dinov2")
    assert code == 2 and "unknown encoder(s) dinov2" in err


def test_cli_refuses_banks_of_other_weights(resources, tmp_path, capsys):
    weights = resources / "mini" / "encoders" / "sup_mlp.safetensors"
    original = weights.read_bytes()
    save_encoder_weights(weights, "sup_mlp", build_mini_model("sup_mlp", 1).state_dict())
    try:
        save_npz_batch(tmp_path / "s.npz", digits(20, 2))
        code, _, err = run(capsys, tmp_path / "s.npz", "--resources", resources, "--battery", "sup_mlp")
        assert code == 2 and "weights_sha256" in err and "sw_bank.safetensors" in err
    finally:
        weights.write_bytes(original)


def test_cli_refuses_fewer_samples_than_the_banks_naming_both_counts_and_the_option(resources, tmp_path, capsys):
    save_npz_batch(tmp_path / "s.npz", digits(100, 3))
    args = (tmp_path / "s.npz", "--scale", "mini", "--resources", resources, "--battery", *BATTERY)
    code, out, err = run(capsys, *args, "--json", tmp_path / "m.json")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "100 samples, fewer than the 150 rows" in err and "--allow-fewer-samples" in err
    assert not (tmp_path / "m.json").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # allowed: one line of ours on stderr, no Python warning per encoder
        code, out, err = run(capsys, *args, "--allow-fewer-samples", "--json", tmp_path / "m.json")
    assert code == 0 and err.count("\n") == 1 and "warning" in err and "100 samples" in err
    assert re.search(r"SW_r2 = [\d.]+.*\(at 100 samples, not 150", out) and "MMDr2" in out
    assert read_json(tmp_path / "m.json")["n_generated"] == 100
