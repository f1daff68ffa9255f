"""Shared test set-up: offline, one torch thread, and a helper to run the workflow in a scratch copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).with_name("snakemake")
WORKFLOW_FILES = ("Snakefile", "config", "workflow", "environment.yml", "data")
SMOKE = "--configfile=config/smoke.yaml"


def _torch_one_thread():
    import torch

    torch.set_num_threads(1)


_torch_one_thread()


def _seconds(item: pytest.Item) -> float:
    """The measured duration a slow test declares (``@pytest.mark.slow(seconds=N)``), 0 for the others."""
    mark = item.get_closest_marker("slow")
    return mark.kwargs.get("seconds", 0) if mark else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An order for ``--dist worksteal`` (pyproject addopts), where each xdist worker runs a contiguous share of this
    list from its front and an idle worker takes tests from the far end of a busy one's share (which keeps its first
    two). First the tests that read the shared smoke build: the first share, whose worker builds it once and reads
    it while the others start on the rest instead of waiting for its lock. Then the quick modules, then the other
    slow modules, longest first: the last share's worker starts them early, and an idle worker takes the shorter
    ones. A module's tests stay together (and so do its module-scoped fixtures); a module's duration is that of its
    longest test."""
    longest: dict[Path, float] = {}
    for item in items:
        longest[item.path] = max(longest.get(item.path, 0), _seconds(item))

    def place(item):
        if "smoke_build" in item.fixturenames:
            return 0, -longest[item.path]
        return (2, -longest[item.path]) if longest[item.path] else (1, 0)

    items.sort(key=place)


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


@pytest.fixture(scope="session")
def smoke_build(tmp_path_factory, worker_id) -> Path:
    """``reproduce_all`` at the smoke scale in a scratch copy, built once per test session and shared, read only,
    by the tests that check what it wrote (pytest-xdist workers share it through a file lock). A test that adds or
    changes files works on its own copy (``smoke_copy``)."""
    base = tmp_path_factory.getbasetemp()
    base = base if worker_id == "master" else base.parent
    build, status = base / "smoke_build", base / "smoke_build.status"
    with FileLock(str(base / "smoke_build.lock")):
        if not status.exists():
            build.mkdir()
            copy_workflow(build)
            proc = snakemake(build, "--cores", "2", SMOKE, "reproduce_all", timeout=1800)
            status.write_text(f"{proc.returncode}\n{proc.stdout[-5000:]}")
    code, out = status.read_text().split("\n", 1)
    assert code == "0", f"the shared smoke build failed:\n{out}"
    return build


def copy_build(build: Path, dest: Path) -> Path:
    """A private copy of a built workflow (file times kept, so Snakemake sees the same state)."""
    shutil.copytree(build, dest, symlinks=True)
    return dest


@pytest.fixture
def smoke_copy(smoke_build, tmp_path) -> Path:
    """A private copy of the shared smoke build, for a test that adds or changes files."""
    return copy_build(smoke_build, tmp_path / "build")
