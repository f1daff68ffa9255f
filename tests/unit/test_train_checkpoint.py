"""Checkpoints: atomic writes, the latest two kept, unreadable files passed over, RNG states restored."""

import random

import numpy as np
import pytest
import torch

from rdm_core.train import checkpoint as ckpt_mod
from rdm_core.train.checkpoint import Checkpointer, capture_rng, restore_rng


def test_save_latest_and_keep_two(tmp_path):
    ck = Checkpointer(tmp_path, every=2)
    assert ck.latest() is None
    for step in (2, 4, 6):
        ck.save(step, {"w": torch.full((3,), float(step)), "offset": step * 10})
    assert ck.steps() == [4, 6]
    step, state = ck.latest()
    assert step == 6 and state["offset"] == 60 and torch.equal(state["w"], torch.full((3,), 6.0))
    assert ck.due(4) and not ck.due(5)


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    ck = Checkpointer(tmp_path, every=1)
    ck.save(1, {"w": torch.zeros(2)})

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        ck.save(2, {"w": torch.ones(2)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_00000001.pt"]
    assert ck.latest()[0] == 1


def test_unreadable_newest_falls_back_and_stale_tmp_is_removed(tmp_path):
    ck = Checkpointer(tmp_path, every=1)
    ck.save(1, {"w": torch.zeros(2)})
    ck.path(2).write_bytes(b"not a checkpoint")
    (tmp_path / ".ckpt_00000003.pt.abc.tmp").write_bytes(b"killed mid-write")
    ck = Checkpointer(tmp_path, every=1)
    assert not list(tmp_path.glob(".ckpt_*.tmp"))
    with pytest.warns(UserWarning, match="unreadable"):
        assert ck.latest()[0] == 1


def test_rng_states_round_trip(tmp_path):
    torch.manual_seed(3), random.seed(3), np.random.seed(3)
    np.random.normal()  # leaves a cached gaussian in the numpy state
    ck = Checkpointer(tmp_path, every=1)
    ck.save(1, {"rng": capture_rng()})
    want = (torch.rand(4), random.random(), np.random.normal(size=3))
    torch.manual_seed(99), random.seed(99), np.random.seed(99)
    restore_rng(ck.latest()[1]["rng"])
    got = (torch.rand(4), random.random(), np.random.normal(size=3))
    assert torch.equal(got[0], want[0]) and got[1] == want[1] and np.array_equal(got[2], want[2])
