"""Class-conditional experiments: the joint feature and its kernel, joint bundles and floors, the Frechet warm
start and iRDM post-training (learning, PID/uniform, single encoder, exact kill-and-resume)."""

import json
import math

import pytest
import torch
from torch import nn

from rdm_core.compare.frechet import frechet_distance
from rdm_core.compare.kernels import median_sigma, rbf
from rdm_core.compare.mmd import NystromBundle, irdm_loss
from rdm_core.generators.mini import OneStepGenerator
from rdm_core.reference.build import nystrom_floor
from rdm_core.representation.features import extract_features
from rdm_core.representation.joint import class_code, cross_class_factor, joint_features
from rdm_core.train import experiment
from rdm_core.train.checkpoint import Checkpointer
from rdm_core.train.experiment import (ClassRollout, build_generator, frechet_reference, joint_bundles,
                                       train_irdm, train_warmstart)

N_CLASSES = 4
QUIET = {"log": lambda m: None}
REF_CFG = {"sigma_n": 500, "landmarks": 16, "kmeans_iters": 5, "fit_n": 1000, "k_rr_n": 1000, "floor_draws": 2,
           "floor_n": 16, "sw_n": 16, "rff_features": 16, "rff_n": 16}
GEN_CFG = {"z_dim": 4, "n_classes": N_CLASSES, "width": 8, "seed": 0}


class Crash(Exception):
    """Stands in for the job being killed."""


def digits(n, seed):
    """Tiny class-dependent data: a bright bar whose row is the class, on a faint noisy background."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % N_CLASSES
    x = 0.05 * torch.rand(n, 1, 28, 28, generator=gen)
    for i, c in enumerate(y.tolist()):
        x[i, 0, 4 + 6 * c:7 + 6 * c, 4:24] = 1.0
    return x, y


def tiny_encoders():
    """Two frozen random encoders: row profile (sees the class) and a pooled conv."""
    torch.manual_seed(11)
    rows = nn.Sequential(nn.AdaptiveAvgPool2d((7, 1)), nn.Flatten(), nn.Linear(7, 6), nn.Tanh())
    conv = nn.Sequential(nn.Conv2d(1, 4, 5, 4), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten())
    encs = {"rows": rows, "conv": conv}
    for e in encs.values():
        e.requires_grad_(False)
    return encs


@pytest.fixture(scope="module")
def setup():
    x, y = digits(96, 0)
    xv, yv = digits(48, 1)
    encs = tiny_encoders()
    train_f = {n: extract_features(e, x) for n, e in encs.items()}
    val_f = {n: extract_features(e, xv) for n, e in encs.items()}
    sigmas = {n: median_sigma(f, n_sub=REF_CFG["sigma_n"]) for n, f in train_f.items()}
    joint = joint_bundles(train_f, y, val_f, yv, sigmas, {"beta": 1.5, "sigma_scale": 1.0, "floor_n": 16}, REF_CFG,
                          n_classes=N_CLASSES)
    return {"x": x, "y": y, "encs": encs, "train_f": train_f, "val_f": val_f, "joint": joint}


def test_joint_kernel_factorises():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 3, generator=gen, dtype=torch.float64), torch.randn(7, 3, generator=gen, dtype=torch.float64)
    ca, cb = class_code(torch.tensor([0, 1, 2, 2, 0]), 3).double(), class_code(torch.arange(7) % 3, 3).double()
    sigma, beta = 0.7, 1.3
    joint = rbf(joint_features(a, ca, beta), joint_features(b, cb, beta), sigma)
    assert torch.allclose(joint, rbf(a, b, sigma) * rbf(ca, cb, sigma / beta))
    # different classes meet with exp(-beta_rel^2) when beta = beta_rel * sigma
    k_cond = rbf(ca, cb, sigma / (1.5 * sigma))
    assert torch.allclose(k_cond[0, 1], torch.tensor(cross_class_factor(1.5), dtype=torch.float64))
    assert k_cond[0, 0] == 1.0


def test_joint_features_shapes_and_constant_code():
    f = torch.randn(4, 3, requires_grad=True)
    code = class_code(torch.tensor([0, 2, 1, 2]), 3)
    assert torch.equal(code.sum(1), torch.ones(4)) and code[1, 2] == 1
    j = joint_features(f, code, 2.0)
    assert j.shape == (4, 6) and torch.equal(j[:, 3:], 2.0 * code)
    j.sum().backward()
    assert torch.equal(f.grad, torch.ones(4, 3))
    with pytest.raises(ValueError, match="3 condition codes"):
        joint_features(f, code[:3], 1.0)


def test_joint_bundles_and_floors(setup):
    joint = setup["joint"]
    for name, feats in setup["train_f"].items():
        bundle = joint["bundles"][name]
        sigma = median_sigma(feats, n_sub=REF_CFG["sigma_n"])
        assert joint["sigma"][name] == pytest.approx(sigma) and bundle.sigma == pytest.approx(sigma)
        assert joint["beta"][name] == pytest.approx(1.5 * sigma)
        assert bundle.Z.shape == (16, feats.shape[1] + N_CLASSES)
        val = joint_features(setup["val_f"][name], class_code(torch.arange(48) % N_CLASSES, N_CLASSES),
                             1.5 * sigma)
        assert joint["floors"][name] == pytest.approx(nystrom_floor(val, bundle, 16, 2))
        assert math.isfinite(joint["floors"][name])
    assert joint["cross_class_factor"] == pytest.approx(math.exp(-1.5 ** 2))


def test_class_rollout_is_seeded_per_step():
    g = OneStepGenerator(z_dim=4, n_classes=N_CLASSES, width=8)
    rollout = ClassRollout(g, 12, 4, seed=3)
    first = rollout(5)
    assert len(first) == 3 and all(z.shape == (4, 4) for z, _ in first)
    assert torch.equal(rollout.code, class_code(torch.cat([y for _, y in first]), N_CLASSES))
    rollout(6)
    again = rollout(5)
    assert all(torch.equal(a, b) for pa, pb in zip(first, again) for a, b in zip(pa, pb))
    with pytest.raises(ValueError, match="multiple of the chunk"):
        ClassRollout(g, 10, 4, seed=0)


def fixed_rollout(generator, n=64):
    z, y = generator.sample_inputs(n, torch.Generator().manual_seed(123))
    return z, y, class_code(y, N_CLASSES)


def test_warmstart_reduces_the_frechet_objective(setup, tmp_path):
    cfg = {**GEN_CFG, "steps": 25, "batch": 32, "lr": 1e-2, "grad_clip": 1.0, "checkpoint_every": 10, "beta": 2.0}
    encs = setup["encs"]
    refs = {n: frechet_reference(f, setup["y"], N_CLASSES, 2.0) for n, f in setup["train_f"].items()}

    def objective(g):
        z, y, code = fixed_rollout(g)
        with torch.no_grad():
            x = g(z, y)
            return sum(math.log(frechet_distance(joint_features((e(x) - refs[n]["mean"]) / refs[n]["scale"], code,
                                                                2.0), refs[n]["mu"], refs[n]["cov"]).item())
                       for n, e in encs.items())

    before = objective(build_generator(cfg))
    trained = train_warmstart(setup["x"], setup["y"], encs, cfg, tmp_path, **QUIET)
    assert objective(trained) < before - 1.0
    assert Checkpointer(tmp_path, 10).steps() == [20, 25]


def irdm_objective(g, setup, names):
    z, y, code = fixed_rollout(g)
    joint = setup["joint"]
    with torch.no_grad():
        x = g(z, y)
        return {n: irdm_loss(joint_features(setup["encs"][n](x), code, joint["beta"][n]), joint["bundles"][n]).item()
                for n in names}


IRDM_CFG = {"steps": 20, "lr": 1e-2, "grad_clip": 1.0, "checkpoint_every": 5, "seed": 0, "rollout": 32,
            "chunk": 16, "pid": False, "beta": 1.5}


@pytest.mark.parametrize("arm", [{"pid": False}, {"pid": True}, {"encoders": ["rows"], "chunk": 32}])
def test_irdm_reduces_its_objective(setup, tmp_path, arm):
    names = arm.get("encoders", ["rows", "conv"])
    g = build_generator(GEN_CFG)
    before = irdm_objective(g, setup, names)
    cfg = {**IRDM_CFG, **arm}
    trained = train_irdm(g, setup["encs"], setup["joint"]["bundles"], setup["joint"]["floors"], cfg, tmp_path, **QUIET)
    after = irdm_objective(trained, setup, names)
    assert sum(map(math.log, after.values())) < sum(map(math.log, before.values())) - 0.5
    log = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(log) == 20 and all(set(r["raw"]) == set(names) for r in log)
    if arm.get("pid"):
        assert len({json.dumps(r["weights"], sort_keys=True) for r in log}) > 1  # the controller acted
    else:
        assert all(set(r["weights"].values()) == {1.0} for r in log)


def test_irdm_kill_and_resume_is_bit_identical(setup, tmp_path, monkeypatch):
    cfg = {**IRDM_CFG, "steps": 7, "checkpoint_every": 3, "pid": True}
    joint = setup["joint"]
    ref = train_irdm(build_generator(GEN_CFG), setup["encs"], joint["bundles"], joint["floors"], cfg,
                     tmp_path / "ref", **QUIET)
    draw = experiment.rollout_generator

    def killed_at_step_5(seed, step):
        if step == 5:
            raise Crash()
        return draw(seed, step)

    with monkeypatch.context() as patch:  # steps 1-4 done, checkpoint at 3, the job dies drawing step 5
        patch.setattr(experiment, "rollout_generator", killed_at_step_5)
        with pytest.raises(Crash):
            train_irdm(build_generator(GEN_CFG), setup["encs"], joint["bundles"], joint["floors"], cfg,
                       tmp_path / "killed", **QUIET)
    messages = []
    fresh = build_generator({**GEN_CFG, "seed": 99})
    resumed = train_irdm(fresh, setup["encs"], joint["bundles"], joint["floors"], cfg, tmp_path / "killed",
                         log=messages.append)
    assert messages and "resuming from step 3" in messages[0]
    assert all(torch.equal(p, q) for p, q in zip(resumed.parameters(), ref.parameters()))
    strip = lambda path: [{k: v for k, v in json.loads(s).items() if k != "seconds"}  # noqa: E731
                          for s in (path / "metrics.jsonl").read_text().splitlines()]
    assert strip(tmp_path / "killed") == strip(tmp_path / "ref")


def test_irdm_refuses_bad_setups(setup, tmp_path):
    g = build_generator(GEN_CFG)
    joint = setup["joint"]
    with pytest.raises(ValueError, match="needs the floors"):
        train_irdm(g, setup["encs"], joint["bundles"], None, {**IRDM_CFG, "pid": True}, tmp_path / "a", **QUIET)
    with pytest.raises(KeyError, match="missing"):
        train_irdm(g, setup["encs"], joint["bundles"], None, {**IRDM_CFG, "encoders": ["missing"]}, tmp_path / "b",
                   **QUIET)
    with pytest.raises(ValueError, match="lacks rollout"):
        train_irdm(g, setup["encs"], joint["bundles"], None, {k: v for k, v in IRDM_CFG.items() if k != "rollout"},
                   tmp_path / "c", **QUIET)
    rows = joint["bundles"]["rows"]
    marginal = {**joint["bundles"], "rows": NystromBundle(Z=rows.Z[:, :-N_CLASSES], alpha=rows.alpha, sigma=rows.sigma,
                                                          k_rr=rows.k_rr)}
    with pytest.raises(ValueError, match="pass the joint bundles"):
        train_irdm(g, setup["encs"], marginal, None, {**IRDM_CFG, "steps": 1}, tmp_path / "d", **QUIET)
