"""The benchmarks' CUDA mode parses and, on a machine without CUDA, runs its CPU fallback (tiny sizes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT

RUNS = {
    "bench_irdm_loss.py": ["--small", "--repeats", "1"],
    "bench_sw_eval.py": ["--small", "--repeats", "1"],
    "bench_features.py": ["--n", "8", "--batch", "4", "--repeats", "1", "--encoders", "sup_cnn",
                          "--timm", "convnext_nano", "--size", "32"],
    "bench_gradcache_memory.py": ["--small"],
}
# the runs that take long enough to leave the quick loop, with their measured seconds
SLOW = {"bench_irdm_loss.py": 12, "bench_gradcache_memory.py": 60}  # gradcache: seven subprocess steps


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.slow(seconds=SLOW[s])) if s in SLOW else s
                                    for s in RUNS])
def test_cuda_mode_runs(script):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--device", "cuda", *RUNS[script]],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    where = "cuda" if torch.cuda.is_available() else "cpu"
    assert f"on {where}" in proc.stdout, proc.stdout
    if where == "cpu":
        assert "CUDA is not available here: running on the CPU" in proc.stderr, proc.stderr
