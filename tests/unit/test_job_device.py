"""The device a rule computes on (`compute.<job>.device`, CPU where no CUDA) and the reference built there."""

from __future__ import annotations

import logging

import pytest
import torch

from rdm_core.reference.build import build_reference
from rdm_core.runlog import job_device

CFG = {"sigma_n": 300, "landmarks": 16, "kmeans_iters": 3, "fit_n": 400, "k_rr_n": 400, "floor_draws": 2,
       "floor_n": 100, "sw_n": 128, "rff_features": 64, "rff_n": 200}


def test_job_device_falls_back_to_cpu_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with caplog.at_level(logging.WARNING, logger="rdm"):
        assert job_device("cuda:1") == "cpu"
    assert "cuda:1" in caplog.text and "CPU" in caplog.text
    assert job_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert job_device("cuda") == "cuda"


def features(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 6, generator=torch.Generator().manual_seed(seed))


def test_reference_on_the_cpu_is_unchanged_by_the_device_argument():
    train, val = features(600, 0), features(300, 1)
    ref, plain = build_reference(train, val, CFG, seed=0, device="cpu"), build_reference(train, val, CFG, seed=0)
    assert torch.equal(ref["bundle"].Z, plain["bundle"].Z) and torch.equal(ref["bundle"].alpha, plain["bundle"].alpha)
    assert ref["nystrom_floor"] == plain["nystrom_floor"] and ref["bank"].sw_floor == plain["bank"].sw_floor


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_reference_on_cuda_matches_cpu():
    """The same seeded draws on both devices: sigma, bundle and floor agree to float rounding; CPU tensors out."""
    train, val = features(2000, 0), features(500, 1)
    gpu, cpu = build_reference(train, val, CFG, seed=0, device="cuda"), build_reference(train, val, CFG, seed=0)
    assert gpu["bundle"].Z.device.type == "cpu" and gpu["bundle"].alpha.device.type == "cpu"
    assert gpu["sigma"] == pytest.approx(cpu["sigma"], rel=1e-9)
    torch.testing.assert_close(gpu["bundle"].Z, cpu["bundle"].Z, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu["bundle"].alpha, cpu["bundle"].alpha, rtol=1e-3, atol=1e-6)
    assert gpu["nystrom_floor"] == pytest.approx(cpu["nystrom_floor"], rel=1e-3, abs=1e-9)
