"""Evaluation is off-objective: importing any module of ``rdm_core.eval`` never loads the training loss."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import rdm_core.eval

# Modules that hold a training loss or the training path; eval must load none of them.
FORBIDDEN = ("rdm_core.train", "rdm_core.compare.mmd", "rdm_core.compare.frechet", "rdm_core.compare.drifting",
             "rdm_core.reference.build", "rdm_core.toy", "rdm_core.generators")
LOSS_NAMES = ("irdm_loss", "mmd2_exact", "frechet_distance", "drifting_loss")

PROBE = """
import importlib, json, sys

def snapshot():
    loaded = sorted(m for m in sys.modules if m.startswith("rdm_core"))
    losses = sorted(f"{{m}}.{{n}}" for m in loaded for n in {losses!r} if hasattr(sys.modules[m], n))
    return {{"loaded": loaded, "losses": losses}}

for name in {modules!r}:
    importlib.import_module(name)
after_eval = snapshot()
importlib.import_module("rdm_core.reference.build")  # the probe must see a loss when one is imported
print(json.dumps([after_eval, snapshot()]))
"""


def forbidden(loaded: list[str]) -> list[str]:
    return [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]


def test_eval_never_imports_the_training_loss():
    """Import every module of rdm_core.eval (and the CLI) in a fresh interpreter and inspect sys.modules."""
    modules = ["rdm_core.eval", "rdm_core.cli",
               *(m.name for m in pkgutil.walk_packages(rdm_core.eval.__path__, "rdm_core.eval."))]
    assert len(modules) > 3
    code = PROBE.format(modules=modules, losses=LOSS_NAMES)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    after_eval, after_build = json.loads(out.stdout.splitlines()[-1])
    assert "rdm_core.reference.banks" in after_eval["loaded"]
    assert forbidden(after_eval["loaded"]) == [] and after_eval["losses"] == []
    assert "rdm_core.compare.mmd" in forbidden(after_build["loaded"])
    assert "rdm_core.compare.mmd.irdm_loss" in after_build["losses"]
