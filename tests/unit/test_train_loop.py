"""The training loop: kill-and-resume is bit-identical, non-finite steps are skipped, counted and bounded."""

import json
import math

import pytest
import torch
from torch import nn

from rdm_core.train import PIDLagrangian, TrainConfig, battery_loss_fn, rollout_generator, train
from rdm_core.train import loop as loop_module
from rdm_core.train.checkpoint import Checkpointer
from rdm_core.train.loop import grad_divisor, loop_config

N, CHUNK, Z_DIM = 16, 8, 4


class Crash(Exception):
    """Stands in for the job being killed."""


def exact_mmd(g, ref):
    k = lambda a, b: torch.exp(-0.5 * torch.cdist(a, b) ** 2)  # noqa: E731
    return k(g, g).mean() - 2 * k(g, ref).mean() + k(ref, ref).mean()


def run(workdir, steps=7, crash_at=None, nan_loss=(), nan_grad=(), model_seed=0, max_bad_steps=3, **loop):
    """Train a linear generator against two frozen random encoders; poison chosen steps."""
    torch.manual_seed(model_seed)
    model = nn.Sequential(nn.Linear(Z_DIM, 16), nn.Sigmoid(), nn.Unflatten(1, (1, 4, 4)))
    frozen = torch.Generator().manual_seed(5)
    w = {"a": torch.randn(16, 3, generator=frozen), "b": torch.randn(16, 2, generator=frozen)}
    refs = {"a": torch.randn(32, 3, generator=frozen) + 1.0, "b": torch.randn(32, 2, generator=frozen)}
    poison = {"loss": False, "grad": False}

    def encode_a(x):
        if poison["grad"] and x.requires_grad:
            x.register_hook(lambda g: g * math.inf)
        return torch.tanh(x.flatten(1) @ w["a"])

    def encode_b(x):
        return torch.tanh(x.flatten(1) @ w["b"]) * (math.nan if poison["loss"] else 1.0)

    def make_rollout(step):
        if step == crash_at:
            raise Crash(step)
        poison.update(loss=step in nan_loss, grad=step in nan_grad)
        z = torch.randn(N, Z_DIM, generator=rollout_generator(7, step))
        return list((z + 0.01 * torch.rand(())).split(CHUNK))  # global RNG too: resume must restore it

    controller = PIDLagrangian(["a", "b"], {"a": 0.05, "b": 0.02})
    cfg = {"steps": steps, "lr": 0.05, "grad_clip": 1.0, "checkpoint_every": 2, "max_bad_steps": max_bad_steps,
           **loop}
    messages = []
    model = train(model, make_rollout, model, {"a": encode_a, "b": encode_b},
                  battery_loss_fn(refs, exact_mmd, controller), controller, cfg, workdir, log=messages.append)
    return model, messages


def metrics(workdir):
    lines = [json.loads(s) for s in (workdir / "metrics.jsonl").read_text().splitlines()]
    for line in lines:
        line.pop("seconds")
    return lines


def test_kill_and_resume_is_bit_identical(tmp_path):
    ref_model, _ = run(tmp_path / "ref")
    with pytest.raises(Crash):
        run(tmp_path / "killed", crash_at=6)  # steps 1-5 done, checkpoint at 4, metrics line 5 written
    assert len(metrics(tmp_path / "killed")) == 5
    with pytest.raises(Crash):
        run(tmp_path / "killed", crash_at=5)  # killed again before step 5: line 5 of the first try is gone
    assert [r["step"] for r in metrics(tmp_path / "killed")] == [1, 2, 3, 4]
    model, messages = run(tmp_path / "killed", model_seed=123)
    assert messages == [f"resuming from step 4 (checkpoint {tmp_path / 'killed' / 'ckpt_00000004.pt'})"]
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert torch.equal(p, q)
    log = metrics(tmp_path / "killed")
    assert log == metrics(tmp_path / "ref") and [r["step"] for r in log] == list(range(1, 8))
    assert len({json.dumps(r["weights"], sort_keys=True) for r in log}) > 2  # the controller was live
    assert Checkpointer(tmp_path / "killed", 2).steps() == [6, 7]
    again, messages = run(tmp_path / "killed", model_seed=9)  # already finished: nothing to do
    assert messages == [f"resuming from step 7 (checkpoint {tmp_path / 'killed' / 'ckpt_00000007.pt'})"]
    assert all(torch.equal(p, q) for p, q in zip(again.parameters(), ref_model.parameters()))
    assert metrics(tmp_path / "killed") == log


def test_non_finite_steps_are_skipped_and_counted(tmp_path):
    run(tmp_path, steps=5, nan_loss={2}, nan_grad={4})
    log = metrics(tmp_path)
    assert [r["skipped"] for r in log] == [False, True, False, True, False]
    assert [r["skipped_total"] for r in log] == [0, 1, 1, 2, 2]
    assert log[1]["loss"] is None and log[1]["raw"]["b"] is None and math.isfinite(log[1]["raw"]["a"])
    assert log[3]["loss"] is not None and log[3]["grad_norm"] is None
    replay = PIDLagrangian(["a", "b"], {"a": 0.05, "b": 0.02})  # the controller updates on every step
    for record, following in zip(log, log[1:]):
        raw = {n: math.nan if v is None else v for n, v in record["raw"].items()}
        assert following["weights"] == replay.update(raw)
    assert log[2]["weights"] != log[1]["weights"]  # skipped step 2 moved the weights (its finite raw a)
    optimizer_state = Checkpointer(tmp_path, 2).latest()[1]["optimizer"]
    assert all(s.item() == 3 for s in optimizer_state["step"])


def test_non_finite_steps_in_a_row_raise(tmp_path):
    with pytest.raises(RuntimeError, match=r"step 4: 3 steps in a row.*=3.*non-finite loss at this step: b"):
        run(tmp_path, steps=6, nan_loss={2, 3, 4})
    with pytest.raises(RuntimeError, match=r"step 3: 2 steps in a row.*none \(the total loss or gradient norm"):
        run(tmp_path / "grad", steps=6, nan_grad={2, 3}, max_bad_steps=2)


def test_truncated_metrics_log_refuses_to_resume(tmp_path):
    with pytest.raises(Crash):
        run(tmp_path, crash_at=4)
    (tmp_path / "metrics.jsonl").write_text("")
    with pytest.raises(RuntimeError, match="shorter than checkpoint step 2"):
        run(tmp_path)


class RecordingAdamW(loop_module.FusedAdamW):
    """The loop's optimiser, keeping the gradients it was given."""
    grads: list = []

    def step(self):
        RecordingAdamW.grads.append([p.grad.detach().clone() for p in self.params])
        super().step()


def test_grad_divisor_scales_the_gradient_before_the_clip(tmp_path, monkeypatch):
    """The clipped update of the gradient divided by s equals the hand-made clip of (exact gradient / s)."""
    monkeypatch.setattr(loop_module, "FusedAdamW", RecordingAdamW)
    RecordingAdamW.grads = []
    run(tmp_path / "unclipped", steps=1, grad_clip=1e9)
    exact = RecordingAdamW.grads.pop()
    norm = math.sqrt(sum(float(x) ** 2 for g in exact for x in g.double().flatten()))
    clip = 0.75 * norm / N * CHUNK  # binds at s = 1 and at s = N / CHUNK, at different levels
    for s, name in ((1.0, "exact"), (N / CHUNK, "per_chunk")):
        cfg = {"grad_scale": name, "rollout": N, "chunk": CHUNK}
        assert grad_divisor(cfg) == s
        run(tmp_path / name, steps=1, grad_clip=clip, grad_divisor=s)
        factor = min(1.0, clip / (norm / s + 1e-6))
        for got, g in zip(RecordingAdamW.grads.pop(), exact):
            torch.testing.assert_close(got.double(), g.double() / s * factor, rtol=1e-5, atol=1e-9)
        assert metrics(tmp_path / name)[0]["grad_norm"] == pytest.approx(norm / s, rel=1e-5)
    with pytest.raises(ValueError, match="grad_scale must be one of"):
        grad_divisor({"grad_scale": "sum"})
    assert loop_config({"steps": 1, "lr": 1.0, "grad_clip": 1.0, "checkpoint_every": 1}).grad_divisor == 1.0


def test_wall_clock_budget_stops_and_survives_a_restart(tmp_path, monkeypatch):
    """Each step costs 1 s of a fake clock: a 3.5 s budget stops after step 4, also across a kill at step 3
    (the elapsed time comes back from the step-2 checkpoint), and a finished run does nothing."""
    monkeypatch.setattr(loop_module, "slowest", lambda seconds: 1.0)
    run(tmp_path / "ref", seconds=3.5)
    assert [r["step"] for r in metrics(tmp_path / "ref")] == [1, 2, 3, 4]
    with pytest.raises(Crash):
        run(tmp_path / "killed", seconds=3.5, crash_at=3)
    model, messages = run(tmp_path / "killed", seconds=3.5)
    assert messages[0].startswith("resuming from step 2") and "budget of 3.5 s is spent (4.0 s)" in messages[1]
    assert metrics(tmp_path / "killed") == metrics(tmp_path / "ref")
    assert Checkpointer(tmp_path / "killed", 2).steps()[-1] == 4
    _, messages = run(tmp_path / "killed", seconds=3.5)
    assert messages == [f"resuming from step 4 (checkpoint {tmp_path / 'killed' / 'ckpt_00000004.pt'})"]
    assert len(metrics(tmp_path / "killed")) == 4


def test_config_and_rollout_seeding():
    assert TrainConfig(**{"steps": 1, "lr": 1e-3, "grad_clip": 2.0, "checkpoint_every": 1}).max_bad_steps == 5
    a = torch.randn(4, generator=rollout_generator(0, 3))
    assert torch.equal(a, torch.randn(4, generator=rollout_generator(0, 3)))
    assert not torch.equal(a, torch.randn(4, generator=rollout_generator(0, 4)))
    assert not torch.equal(a, torch.randn(4, generator=rollout_generator(1, 3)))


def test_ema_equals_a_loop_reference_and_survives_a_kill(tmp_path):
    """With ema = d the returned weights are e_k = d e_(k-1) + (1 - d) theta_k over the applied steps (a
    skipped step leaves e alone), from e_0 = theta_0, computed in float64 from the runs without ema that
    stop at each step; the raw trajectory is unchanged and a kill resumes the average from its checkpoint."""
    d, skip = 0.8, {3}
    torch.manual_seed(0)
    init = [p.detach().double() for p in nn.Linear(Z_DIM, 16).parameters()]  # run()'s model at seed 0
    ref = init
    for k in range(1, 6):
        theta = [p.detach().double() for p in run(tmp_path / f"raw{k}", steps=k, nan_loss=skip)[0].parameters()]
        if k not in skip:
            ref = [d * e + (1 - d) * p for e, p in zip(ref, theta)]
    model, _ = run(tmp_path / "ema", steps=5, nan_loss=skip, ema=d)
    for got, want in zip(model.parameters(), ref):
        torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-6)
    assert not all(torch.equal(p.double(), q) for p, q in zip(model.parameters(), theta))
    assert metrics(tmp_path / "ema") == metrics(tmp_path / "raw5")
    with pytest.raises(Crash):
        run(tmp_path / "killed", steps=5, nan_loss=skip, ema=d, crash_at=4)  # resumes from the step-2 checkpoint
    resumed, _ = run(tmp_path / "killed", steps=5, nan_loss=skip, ema=d)
    assert all(torch.equal(p, q) for p, q in zip(resumed.parameters(), model.parameters()))


def test_ema_config_errors(tmp_path):
    with pytest.raises(ValueError, match=r"ema must be a decay in \[0, 1\)"):
        loop_config({"steps": 1, "lr": 1.0, "grad_clip": 1.0, "checkpoint_every": 1, "ema": 1.0})
    assert loop_config({"steps": 1, "lr": 1.0, "grad_clip": 1.0, "checkpoint_every": 1}).ema is None
    run(tmp_path, steps=2)
    with pytest.raises(ValueError, match="has no weight average, but the config asks for ema=0.5"):
        run(tmp_path, steps=4, ema=0.5)
