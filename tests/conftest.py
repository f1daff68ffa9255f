"""Shared test set-up: offline, one torch thread, and a helper to run the workflow in a scratch copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
WORKFLOW_FILES = ("Snakefile", "config", "workflow", "environment.yml", "data")


def _torch_one_thread():
    import torch

    torch.set_num_threads(1)


_torch_one_thread()


def copy_workflow(dest: Path) -> Path:
    """A scratch copy of the workflow (the library is imported from the installed package)."""
    for name in WORKFLOW_FILES:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir``, a scratch copy (never the checkout: what a user has built or is running
    there must not change a test); returns the completed process (stdout and stderr merged)."""
    if Path(workdir).resolve() == ROOT:
        raise ValueError("tests run Snakemake in a scratch copy of the workflow (fixtures workflow_copy, "
                         "dry_workflow), never in the checkout")
    return subprocess.run([str(SNAKEMAKE), *args], cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, env={**os.environ, "HF_HUB_OFFLINE": "1"})


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path)


@pytest.fixture(scope="session")
def dry_workflow(tmp_path_factory) -> Path:
    """One scratch copy of the workflow with nothing built, shared by the tests that only dry-run it."""
    return copy_workflow(tmp_path_factory.mktemp("dry"))
