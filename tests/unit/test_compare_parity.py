"""Parity with the official implementation (vita-epfl/RDM 391e274): the iRDM loss and its gradient, the Nystrom
bundle, the SW_2 evaluation primitive, the evaluation banks and the PID weights reproduce the numbers the official
functions returned on fixed inputs (tests/data/official/{compare,banks}_official.safetensors; README.md there says
how they were made)."""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from rdm_core.compare.kernels import median_sigma
from rdm_core.compare.mmd import NystromBundle, build_nystrom_bundle, irdm_loss
from rdm_core.compare.sliced import sw2
from rdm_core.reference.banks import build_eval_bank
from rdm_core.reference.build import nystrom_floor
from rdm_core.train.balance import PIDLagrangian

FIXTURE = Path(__file__).parents[1] / "data" / "official" / "compare_official.safetensors"


@pytest.fixture(scope="module")
def official():
    return load_file(FIXTURE)


def test_loss_value_and_gradient_equal_the_official(official):
    g = official["loss/g"].clone().requires_grad_(True)
    bundle = NystromBundle(official["loss/Z"], official["loss/alpha"], float(official["loss/sigma"]),
                           float(official["loss/k_rr"]))
    loss = irdm_loss(g, bundle)
    loss.backward()
    # the value is a difference of O(1) terms computed in fp32 by both codes: compare on the terms' scale
    assert float(loss.detach()) == pytest.approx(float(official["loss/value"]), abs=1e-6)
    torch.testing.assert_close(g.grad, official["loss/grad"], rtol=1e-5, atol=1e-7)


def test_bundle_equals_the_official(official):
    """Same seeded subsample, same k-means start and iterations, same solve: landmarks, alpha and k_rr."""
    bundle = build_nystrom_bundle(official["bundle/pool"], 1.7, n_landmarks=8, fit_n=200, k_rr_n=250, seed=0)
    torch.testing.assert_close(bundle.Z, official["bundle/Z"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(bundle.alpha, official["bundle/alpha"], rtol=1e-5, atol=1e-7)
    assert bundle.k_rr == pytest.approx(float(official["bundle/k_rr"]), rel=1e-6)


def test_sw2_uses_the_official_directions(official):
    """Seed 0, 1024 directions drawn 64 at a time: the same directions, so the same SW_2, not merely a close one."""
    assert sw2(official["sw/G"], official["sw/R"]) == pytest.approx(float(official["sw/value"]), rel=1e-6)


def test_pid_weights_equal_the_official(official):
    with safe_open(FIXTURE, "pt") as f:
        names = json.loads(f.metadata()["pid_names"])
    pid = PIDLagrangian(names, dict(zip(names, official["pid/floors"].tolist())), budget=10.0, kp=1.0, ema=0.5,
                        clip=5.0, temperature_scale=2.0)
    weights = [[pid.update(dict(zip(names, row.tolist())))[n] for n in names] for row in official["pid/scores"]]
    torch.testing.assert_close(torch.tensor(weights, dtype=torch.float64), official["pid/weights"], rtol=1e-9, atol=1e-12)


def test_eval_banks_equal_the_official():
    """The SW bank's train and val subsets, the RFF frequencies, phases and mean, and the RFF floor (x 1000)."""
    official = load_file(FIXTURE.with_name("banks_official.safetensors"))
    bank = build_eval_bank(official["in/train"], official["in/val"], sigma=2.0, sw_n=200, rff_features=256, rff_n=300)
    torch.testing.assert_close(bank.sw_train, official["sw/train"], rtol=0, atol=0)
    torch.testing.assert_close(bank.sw_val, official["sw/val"], rtol=0, atol=0)
    torch.testing.assert_close(bank.rff.W, official["rff/W"], rtol=0, atol=0)
    torch.testing.assert_close(bank.rff.b, official["rff/b"], rtol=0, atol=0)
    torch.testing.assert_close(bank.rff_mu.float(), official["rff/mu_r"], rtol=1e-5, atol=1e-7)
    assert 1000 * bank.rff_floor == pytest.approx(float(official["rff/floor_x1000"]), rel=1e-5)


def test_pid_floor_equals_the_official():
    """b_phi: the mean Nystrom MMD^2 of 3 seeded draws of 100 val rows against an official bundle."""
    official = load_file(FIXTURE.with_name("banks_official.safetensors"))
    bundle = NystromBundle(official["floor/Z"], official["floor/alpha"], 2.0, float(official["floor/k_rr"]))
    floor = nystrom_floor(official["in/val"], bundle, n=100, draws=3, seed=0)
    assert floor == pytest.approx(float(official["floor/value"]), rel=1e-6)


def test_median_sigma_equals_the_official(official):
    """All rows (no subsample): sqrt of the lower median of 28 pairwise squared distances."""
    assert median_sigma(official["sigma/x"]) == pytest.approx(float(official["sigma/value"]), rel=1e-6)
