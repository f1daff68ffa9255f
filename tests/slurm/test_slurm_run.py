"""A real single-node SLURM on localhost: the smoke flow baseline through the project's SLURM profile equals
a local run, and a training job cancelled half way (`scancel`) resumes from its checkpoint on rerun and ends
with the weights of an uninterrupted run.

Needs root and the Debian SLURM packages (installed with apt-get when missing); skips, saying why, where
neither is possible. Stops only the daemons tests/slurm/start_slurm.sh started. Prints its timings.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT, SNAKEMAKE, copy_workflow
from reliability import assert_same_weights, kill_tree, smoke_config, start_snakemake, wait_for_checkpoint

pytestmark = pytest.mark.slow(seconds=150)

HERE = Path(__file__).resolve().parent
SMOKE = "--configfile=config/smoke.yaml"
FLOW = "resources/smoke/classcond/weights/flow.safetensors"
FLOW_DONE = "resources/smoke/classcond/weights/flow.done.json"
FLOW_WORK = "resources/smoke/work/flow"
FLOW_LOG = "resources/smoke/logs/classcond/flow.log"
SLURM_ARGS = ("--profile", "workflow/profiles/slurm", "--executor", "slurm", "--jobs", "2", "--retries", "0",
              # no slurmdbd on this test cluster, so status comes from squeue (see the profile's comment);
              # no retries: the cancelled job fails the run, and the rerun below is what resumes it
              "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
              "--latency-wait", "5")


def report(request, line: str) -> None:
    """Print a timing past pytest's capture, so that CI logs show it."""
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n[slurm] {line}", flush=True)


def run(cmd, cwd, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def slurm_env(request):
    """Start the private cluster; yield the environment that talks to it; stop it."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM integration test needs root (slurmd, munged and apt-get)")
    # not under pytest's tmp folder: that is private to root, and munged (user munge) must reach its files
    base = Path(tempfile.mkdtemp(prefix="rdm-slurm-"))
    base.chmod(0o755)
    env = {**os.environ, "SLURM_TEST_DIR": str(base), "HF_HUB_OFFLINE": "1",
           "PATH": f"/usr/sbin:/sbin:{os.environ['PATH']}"}
    t0 = time.perf_counter()
    start = run([str(HERE / "start_slurm.sh")], ROOT, env, timeout=300)
    if start.returncode == 3:
        pytest.skip(f"no SLURM on this machine: {start.stdout.strip().splitlines()[-1]}")
    try:
        assert start.returncode == 0, start.stdout
        report(request, f"cluster up in {time.perf_counter() - t0:.1f} s")
        yield env
    finally:
        t0 = time.perf_counter()
        stop = run([str(HERE / "stop_slurm.sh")], ROOT, env, timeout=120)
        report(request, f"cluster stopped in {time.perf_counter() - t0:.1f} s: {' '.join(stop.stdout.split())}")
        shutil.rmtree(base, ignore_errors=True)


def local_references(copy: Path, long: str, env: dict) -> dict[str, bytes]:
    """The local runs the SLURM ones must equal: the smoke flow (weights, marker), then the long flow's weights."""
    smk = str(SNAKEMAKE)
    proc = run([smk, "--cores", "1", SMOKE, FLOW], copy, env)
    assert proc.returncode == 0, proc.stdout
    refs = {"short": (copy / FLOW).read_bytes(), "done": (copy / FLOW_DONE).read_bytes()}
    shutil.rmtree(copy / FLOW_WORK)  # a fresh start: raising steps would resume the short run's checkpoint
    proc = run([smk, "--cores", "1", long, FLOW], copy, env)
    assert proc.returncode == 0, proc.stdout
    return {**refs, "long": (copy / FLOW).read_bytes()}


def test_slurm_run_matches_local_and_resumes_after_scancel(slurm_env, tmp_path, request):
    t_all = time.perf_counter()
    local, cluster = copy_workflow(_mkdir(tmp_path / "local")), copy_workflow(_mkdir(tmp_path / "slurm"))
    # the smoke config with a flow long enough to cancel half way (about 25 steps per second on one core)
    for copy in (local, cluster):
        long = smoke_config(copy, "long.yaml", {"classcond": {"flow": {"steps": 600, "checkpoint_every": 50}}})
    smk = str(SNAKEMAKE)
    # the local reference runs use the CPU while the SLURM runs below mostly wait for the plugin's polls
    with ThreadPoolExecutor(1) as pool:
        local_refs = pool.submit(local_references, local, long, slurm_env)

        # 1. the smoke flow baseline (data preparation, training) on SLURM: the local run's weights and marker
        t0 = time.perf_counter()
        proc = run([smk, *SLURM_ARGS, SMOKE, FLOW], cluster, slurm_env)
        assert proc.returncode == 0, proc.stdout
        assert len(re.findall(r"Job \d+ has been submitted with SLURM jobid \d+", proc.stdout)) == 2, proc.stdout
        report(request, f"smoke data + flow on SLURM (2 jobs): {time.perf_counter() - t0:.1f} s")
        short = tmp_path / "short.safetensors"
        shutil.copy(cluster / FLOW, short)
        done = (cluster / FLOW_DONE).read_bytes()

        # 2. a longer flow run, cancelled half way by scancel, then rerun: it resumes from its checkpoint
        shutil.rmtree(cluster / FLOW_WORK)
        t0 = time.perf_counter()
        job = start_snakemake(cluster, *SLURM_ARGS, long, FLOW, env=slurm_env)
        try:
            killed_at = wait_for_checkpoint(job, cluster / FLOW_WORK, 300, timeout=300)
            ids = run(["squeue", "-h", "-o", "%i"], cluster, slurm_env).stdout.split()
            assert ids, "no job in squeue while training"
            assert run(["scancel", *ids], cluster, slurm_env).returncode == 0
            out = job.communicate(timeout=300)[0]
        finally:
            if job.poll() is None:
                kill_tree(job)
        assert job.returncode != 0, out
        assert not (cluster / FLOW).exists(), "a cancelled training job left its declared output"
        assert killed_at < 600
        proc = run([smk, *SLURM_ARGS, long, FLOW], cluster, slurm_env)
        assert proc.returncode == 0, proc.stdout
        report(request, f"flow 600 steps on SLURM, scancel at checkpoint {killed_at}, rerun: "
                        f"{time.perf_counter() - t0:.1f} s")
        resumed = [int(s) for s in re.findall(r"resuming from step (\d+)", (cluster / FLOW_LOG).read_text())]
        assert resumed and killed_at <= resumed[0] < 600, (killed_at, resumed)
        refs = local_refs.result()

    # the same weights as the uninterrupted local runs, and the same done marker
    for name, path in (("short", short), ("long", cluster / FLOW)):
        (local / "ref.safetensors").write_bytes(refs[name])
        assert_same_weights(path, local / "ref.safetensors")
    assert done == refs["done"]
    report(request, f"whole test (cluster start excluded): {time.perf_counter() - t_all:.1f} s")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
