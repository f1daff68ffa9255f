"""The two Snakemake profiles: `reproduce_all` dry-runs under each, at mini and paper scale, and the SLURM
dry run shows what every job would ask SLURM for."""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import ROOT, snakemake

PAPER = "--configfile=config/paper.yaml"


@pytest.fixture
def dry_run(dry_workflow, monkeypatch):
    """``dry_run(*args, env=...)``: ``snakemake -n`` in the shared scratch copy, with extra environment."""
    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return snakemake(dry_workflow, "-n", *args, timeout=300)
    return run


def job_blocks(stdout: str) -> list[str]:
    """The dry run's per-job blocks ("rule NAME:" up to the next blank line)."""
    return re.findall(r"^(?:local)?rule \w+:\n(?:    .*\n)+", stdout, re.M)


@pytest.mark.parametrize("configfile", [None, PAPER], ids=["mini", "paper"])
def test_local_profile_dry_run(configfile, dry_run):
    proc = dry_run("--profile", "workflow/profiles/local", *filter(None, [configfile]), "reproduce_all")
    assert proc.returncode == 0, proc.stdout
    assert "Using profile workflow/profiles/local" in proc.stdout and "This was a dry-run" in proc.stdout


def test_slurm_profile_by_name(tmp_path, dry_run):
    """The README's literal command, with the profile installed where Snakemake looks for the name `slurm`."""
    (tmp_path / "snakemake").mkdir()
    (tmp_path / "snakemake" / "slurm").symlink_to(ROOT / "workflow" / "profiles" / "slurm")
    proc = dry_run("--cores", "all", "--profile", "slurm", "reproduce_all", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stdout
    assert "Using profile slurm" in proc.stdout and "slurm_partition=" in proc.stdout, proc.stdout[:2000]


def test_slurm_profile_paper_prints_requests(dry_run):
    """Paper scale through the SLURM executor: every job lists its resources (site placeholders from the profile,
    the rule's own mem_mb and runtime), and the feature jobs ask for a GPU."""
    proc = dry_run("--profile", "workflow/profiles/slurm", PAPER, "--executor", "slurm", "--jobs", "8", "reproduce_all")
    assert proc.returncode == 0, proc.stdout
    blocks = [b for b in job_blocks(proc.stdout) if not b.startswith("localrule")]
    total = int(re.search(r"^total\s+(\d+)$", proc.stdout, re.M).group(1))
    assert len(blocks) >= total - 1, (len(blocks), total)  # all but the reproduce_all aggregate
    for block in blocks:
        resources = re.search(r"^    resources: (.*)$", block, re.M)
        assert resources, block
        keys = dict(item.split("=", 1) for item in resources.group(1).split(", "))
        assert {"slurm_account", "slurm_partition", "mem_mb", "runtime"} <= set(keys), block
        assert int(keys["runtime"]) > 0 and int(keys["mem_mb"]) > 0, block
    features = [b for b in blocks if b.startswith("rule features:")]
    assert len(features) == 14 and all("gpu=1" in b for b in features), features[:1]
