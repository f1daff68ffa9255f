"""The reviewer's page: the HTML report (every artifact, rendered by headless Chromium without JS errors), the
MANIFEST, the compute table and its benchmark inputs."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from browser import chromium, console_errors, screenshot
from conftest import ROOT, copy_build, snakemake
from rdm_core.io import file_sha256
from rdm_core.report.manifest import config_hash, config_values, results_readme

ARTIFACTS = yaml.safe_load((ROOT / "config" / "artifacts.yaml").read_text())
SCALES = {"config/config.yaml": "mini", "config/smoke.yaml": "smoke", "config/paper.yaml": "paper"}


def scale_artifacts(scale):
    return [name for name, row in ARTIFACTS.items() if scale in row.get("scales", [scale])]


def _dry_run_lines(workdir, *args) -> str:
    proc = snakemake(workdir, "-n", "--forceall", *args)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


@pytest.mark.parametrize("configfile", SCALES)
def test_compute_reads_the_benchmarks_of_every_job_the_artifacts_need(configfile, dry_workflow):
    """The compute rule's inputs are exactly the benchmark files of the jobs the artifacts and VERIFY need: none
    missed, and none that would make a job run only for its timing."""
    scale = SCALES[configfile]
    needed = _dry_run_lines(dry_workflow, f"--configfile={configfile}", "verify", *scale_artifacts(scale))
    benchmarks = set(re.findall(r"^\s+benchmark: (\S+)$", needed, re.M))
    compute = _dry_run_lines(dry_workflow, f"--configfile={configfile}", "compute")
    block = compute.split("rule compute:", 1)[1]
    inputs = set(re.search(r"^\s+input: (.+)$", block, re.M).group(1).split(", "))
    assert benchmarks and inputs == benchmarks, (sorted(benchmarks - inputs), sorted(inputs - benchmarks))


@pytest.fixture(scope="module")
def smoke_run(smoke_build, tmp_path_factory):
    """A copy of the shared smoke build of reproduce_all, then its report (time printed for the README)."""
    work = copy_build(smoke_build, tmp_path_factory.mktemp("report") / "build")
    start = time.perf_counter()
    report = snakemake(work, "--configfile=config/smoke.yaml", "--report", "results/smoke/report.html")
    assert report.returncode == 0, report.stdout[-5000:]
    print(f"\nsmoke report {time.perf_counter() - start:.0f} s")
    return work


def _report_files(row):
    return [p for p in row["outputs"] if p.endswith((".png", ".csv"))]


@pytest.mark.slow(seconds=60)
def test_report_lists_every_artifact(smoke_run):
    html = (smoke_run / "results" / "smoke" / "report.html").read_text()
    for name in scale_artifacts("smoke"):
        row = ARTIFACTS[name]
        category = json.dumps(row["paper"]) + ": {" + json.dumps(row["title"]) + ": ["
        assert category in html, name  # the artifact's category and subcategory
        for path in _report_files(row):
            assert json.dumps(f"results/smoke/{path}") in html, (name, path)
        assert f'Rule <tt class=\\"docutils literal\\">{name}</tt>' in html, name  # its caption, rendered
        assert f"Rule ``{name}``" not in html, name  # (reStructuredText to HTML, not raw)
    for name in ("VERIFY.md", "MANIFEST.tsv", "tables/compute.csv"):
        assert json.dumps(f"results/smoke/{name}") in html, name
    assert "iRDM reproduction: every table and figure of the paper" in html


@pytest.mark.slow(seconds=60)
def test_report_renders_in_headless_chromium(smoke_run, tmp_path):
    browser, why = chromium()
    if browser is None:
        pytest.skip(f"no headless Chromium: {why}")
    png = tmp_path / "report.png"
    proc, seconds = screenshot(browser, smoke_run / "results" / "smoke" / "report.html", png)
    print(f"\nchromium screenshot {seconds:.1f} s")
    assert png.is_file(), proc.stderr[-3000:]
    assert not console_errors(proc.stderr), console_errors(proc.stderr)
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=float)
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert pixels.std() > 10 and colours > 50, f"blank screenshot ({colours} colours, std {pixels.std():.1f})"


@pytest.mark.slow(seconds=60)
def test_manifest_and_compute_table(smoke_run):
    res = smoke_run / "results" / "smoke"
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    smoke = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    config = _merge(config, smoke)
    manifest = pd.read_csv(res / "MANIFEST.tsv", sep="\t").set_index("file")
    want = [p for name in scale_artifacts("smoke") for p in ARTIFACTS[name]["outputs"]]
    assert set(manifest.index) == {*want, "VERIFY.md", "tables/compute.csv", "tables/compute.md"}
    for path in want + ["VERIFY.md"]:
        assert manifest.loc[path, "sha256"] == file_sha256(res / path), path
    for name in scale_artifacts("smoke"):
        row = manifest.loc[ARTIFACTS[name]["outputs"][0]]
        assert row["rule"] == name and row["config_hash"] == config_hash(config_values(config, ARTIFACTS[name]["config"]))
    assert (manifest["commit"] == "unknown").all()  # the scratch copy is no git clone
    compute = pd.read_csv(res / "tables" / "compute.csv").set_index("stage")
    assert {"toy", "encoders", "features", "reference", "eval", "classcond", "total"} <= set(compute.index)
    assert compute.loc["total", "jobs"] == compute.drop("total")["jobs"].sum() > 0
    assert (compute["wall time (s)"] > 0).all()
    assert (smoke_run / "results" / "README.md").read_text() == results_readme(ARTIFACTS)


def _merge(base, over):
    """A config file laid over another, as Snakemake does (nested mappings merged)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out
