"""Battery balancing: self-normalisation and the proportional Lagrangian controller on hand-made errors."""

import math

import pytest
import torch

from rdm_core.train.balance import PIDLagrangian, UniformWeights, self_normalise

NAMES = ["a", "b", "c"]
FLOORS = {"a": 1.0, "b": 2.0, "c": 3.0}


def test_self_normalise_value_and_log_gradient():
    for value in (3.0, 1e-4, -0.5):
        L = torch.tensor(value, dtype=torch.float64, requires_grad=True)
        out = self_normalise(L)
        out.backward()
        assert out.item() == pytest.approx(value / (abs(value) + 1e-7))
        assert L.grad.item() == pytest.approx(1.0 / (abs(value) + 1e-7))  # d log|L| / dL, sign kept


def test_initial_weights_are_one():
    assert PIDLagrangian(NAMES, FLOORS).weights == {"a": 1.0, "b": 1.0, "c": 1.0}


def test_all_satisfied_gives_zero_weights():
    ctl = PIDLagrangian(NAMES, FLOORS)
    assert ctl.update({"a": 0.5, "b": 2.0, "c": 1.0}) == {"a": 0.0, "b": 0.0, "c": 0.0}


def test_one_violator_takes_the_whole_budget():
    ctl = PIDLagrangian(NAMES, FLOORS, budget=10.0)
    assert ctl.update({"a": 0.5, "b": 2.3, "c": 1.0}) == pytest.approx({"a": 0.0, "b": 10.0, "c": 0.0})


def test_two_violators_closed_form_softmax():
    ctl = PIDLagrangian(NAMES, FLOORS, budget=10.0, temperature_scale=2.0)
    w = ctl.update({"a": 2.0, "b": 5.0, "c": 0.0})  # errors 1 and 3 -> T = 2 * 2 = 4
    za, zb = math.exp(1 / 4), math.exp(3 / 4)
    assert w == pytest.approx({"a": 10 * za / (za + zb), "b": 10 * zb / (za + zb), "c": 0.0})
    assert sum(w.values()) == pytest.approx(10.0)


def test_ema_smooths_the_live_score():
    ctl = PIDLagrangian(["a"], {"a": 1.0}, ema=0.5)
    ctl.update({"a": 3.0})
    assert ctl.scores == {"a": 3.0}  # first step: the raw score
    w = ctl.update({"a": 0.0})       # 0.5 * 3 + 0.5 * 0 = 1.5 > floor: still violating
    assert ctl.scores == {"a": 1.5} and w == {"a": 10.0}
    w = ctl.update({"a": 0.0})       # 0.75 <= floor: satisfied
    assert ctl.scores == {"a": 0.75} and w == {"a": 0.0}


def test_clip_bounds_the_error():
    ctl = PIDLagrangian(["a", "b"], {"a": 0.0, "b": 0.0}, clip=5.0)
    w = ctl.update({"a": 100.0, "b": 1.0})  # errors clipped to 5 and 1 -> T = 2 * 3 = 6
    assert ctl.errors() == {"a": 5.0, "b": 1.0}
    za, zb = math.exp(5 / 6), math.exp(1 / 6)
    assert w["a"] == pytest.approx(10 * za / (za + zb))
    ctl = PIDLagrangian(["a"], {"a": 0.0}, kp=2.0, clip=5.0)
    ctl.update({"a": -4.0})
    assert ctl.errors() == {"a": -5.0}  # kp scales the error before the clip


def test_state_dict_round_trip_continues_identically():
    ctl = PIDLagrangian(NAMES, FLOORS)
    ctl.update({"a": 2.0, "b": 5.0, "c": 0.0})
    twin = PIDLagrangian(NAMES, FLOORS)
    twin.load_state_dict(ctl.state_dict())
    nxt = {"a": 1.7, "b": 2.5, "c": 4.0}
    assert twin.update(nxt) == ctl.update(nxt)
    with pytest.raises(ValueError, match="encoders"):
        PIDLagrangian(["a", "b"], FLOORS).load_state_dict(ctl.state_dict())


def test_bad_inputs_are_refused():
    with pytest.raises(KeyError, match="no floor"):
        PIDLagrangian(["a", "z"], FLOORS)
    ctl = PIDLagrangian(NAMES, FLOORS)
    with pytest.raises(KeyError):
        ctl.update({"a": 1.0})


def test_non_finite_score_is_held_while_the_others_update():
    """A skipped step still updates the controller (as the official one); a non-finite raw score leaves that
    encoder's live score as it was, and an encoder without a score yet is not a violator."""
    ctl = PIDLagrangian(NAMES, FLOORS)
    w = ctl.update({"a": 2.0, "b": math.nan, "c": 0.0})
    assert ctl.scores == {"a": 2.0, "c": 0.0} and w == {"a": 10.0, "b": 0.0, "c": 0.0}
    ctl.update({"a": 4.0, "b": 6.0, "c": 2.0})
    w = ctl.update({"a": math.inf, "b": math.nan, "c": 5.0})
    assert ctl.scores == {"a": 3.0, "b": 6.0, "c": 3.0}   # c: 0.5 * (0.5 * 0 + 0.5 * 2) + 0.5 * 5
    twin = PIDLagrangian(NAMES, FLOORS)
    assert twin.update({"a": 3.0, "b": 6.0, "c": 3.0}) == pytest.approx(w)  # the weights of those scores


def test_uniform_weights_are_static():
    ctl = UniformWeights(NAMES)
    assert ctl.update({"a": 9.0, "b": 0.0, "c": 1.0}) == {"a": 1.0, "b": 1.0, "c": 1.0}
    twin = UniformWeights(NAMES)
    twin.load_state_dict(ctl.state_dict())
    assert twin.weights == ctl.weights
