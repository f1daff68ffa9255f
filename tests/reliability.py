"""Helpers of the reliability tests (kill, resume, SLURM): smoke configs with longer training, checkpoint
polling, killing a Snakemake process tree, and comparing weights."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import torch
import yaml

from conftest import SNAKEMAKE
from rdm_core.io import load_tensors


def _merge(base: dict, over: dict) -> dict:
    return {**base, **{k: _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
                       for k, v in over.items()}}


def smoke_config(copy: Path, name: str, overrides: dict) -> str:
    """Write config/smoke.yaml with ``overrides`` laid over it as ``name`` in ``copy``; the --configfile argument.
    (One file: a second --configfile replaces the first rather than lying over it.)"""
    cfg = yaml.safe_load((copy / "config" / "smoke.yaml").read_text())
    (copy / name).write_text(yaml.safe_dump(_merge(cfg, overrides), sort_keys=False))
    return f"--configfile={name}"


def checkpoint_steps(workdir: Path) -> list[int]:
    """Steps of the periodic checkpoints under a rule's work folder (any config-keyed subfolder), ascending."""
    return sorted(int(m.group(1)) for p in workdir.glob("*/ckpt_*.pt") if (m := re.search(r"ckpt_(\d+)", p.name)))


def start_snakemake(workdir: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    """Snakemake in its own process group, so that it and its job children can be killed together."""
    return subprocess.Popen([str(SNAKEMAKE), *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def wait_for_checkpoint(proc: subprocess.Popen, workdir: Path, step: int, timeout: float = 600) -> int:
    """Wait until a checkpoint at ``step`` or later exists; its step."""
    t0 = time.perf_counter()
    while not (steps := checkpoint_steps(workdir)) or steps[-1] < step:
        assert proc.poll() is None, f"snakemake ended before checkpoint {step}:\n{proc.communicate()[0]}"
        assert time.perf_counter() - t0 < timeout, f"no checkpoint {step} in {workdir} after {timeout} s"
        time.sleep(0.1)
    return steps[-1]


def kill_tree(proc: subprocess.Popen) -> str:
    """SIGKILL Snakemake and every job process of its group; its output so far."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it had just ended by itself
        pass
    out = proc.communicate(timeout=60)[0]
    for _ in range(100):  # the job children are gone too (zombies aside)
        if not _live_group_members(proc.pid):
            return out
        time.sleep(0.1)
    raise AssertionError(f"processes {_live_group_members(proc.pid)} of group {proc.pid} survived SIGKILL")


def _live_group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def assert_same_weights(a: Path, b: Path) -> None:
    """Same tensors and metadata (the safetensors header orders its metadata map differently per process)."""
    (ta, ma), (tb, mb) = load_tensors(a), load_tensors(b)
    assert ma == mb and ta.keys() == tb.keys(), (ma, mb)
    assert all(torch.equal(ta[k], tb[k]) for k in ta), f"{a} and {b} hold different weights"
