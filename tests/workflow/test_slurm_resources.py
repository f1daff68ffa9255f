"""What each paper job asks SLURM for: the SLURM profile's dry run at paper scale shows a GPU, memory and
runtime from `compute:` on every feature, reference, training, rendering and evaluation job, and none on the
CPU-only jobs (toy, tables, figures, report); the plugin turns those keys into --gpus / --cpus-per-gpu."""

from __future__ import annotations

import re

import pytest
import yaml

from conftest import snakemake

SLURM = ("-n", "--profile", "workflow/profiles/slurm", "--executor", "slurm", "--jobs", "8")
# The heavy stages of the paper path (each must be in the dry run, so the check below cannot pass empty).
GPU_RULES = {
    "features", "reference",  # the frozen reference
    "irdm_arm", "t2i_paper_train",  # training
    "samples", "t2i_paper_contexts", "t2i_paper_text", "t2i_paper_features", "t2i_paper_reference",
    "t2i_paper_geneval_images",  # rendering and the text-to-image stage's encodings
    "t2i_paper_teacher_geneval", "t2i_paper_teacher_coco", "t2i_paper_teacher_kept",  # the geALLcoco teacher renders
    "evaluate_generator", "probes", "preference", "t2i_paper_pickscore", "t2i_paper_geneval_score",  # evaluation
}
CPU_RULE = re.compile(r"(table|fig)\d+|toy_\w+|verify|manifest|compute|results_readme|reproduce_all"
                      r"|fetch_generator|t2i_paper_(prompts|pool|metrics|curve|curate)|fetch_t2i_released")


def dry_run_jobs(workdir, *args) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job of a SLURM dry run of reproduce_all."""
    proc = snakemake(workdir, *SLURM, *args, "reproduce_all", timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:]
    jobs = []
    for name, block in re.findall(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", proc.stdout, re.M):
        resources = re.search(r"^    resources: (.*)$", block, re.M).group(1)
        jobs.append((name, dict(item.split("=", 1) for item in resources.split(", "))))
    return jobs


def test_paper_gpu_jobs_request_gpu_memory_runtime(dry_workflow):
    jobs = dry_run_jobs(dry_workflow, "--configfile=config/paper.yaml")
    assert GPU_RULES <= {name for name, _ in jobs}, GPU_RULES - {name for name, _ in jobs}
    compute = yaml.safe_load((dry_workflow / "config" / "paper.yaml").read_text())["compute"]
    for name, res in jobs:
        if name in GPU_RULES:
            assert int(res.get("gpu", 0)) >= 1 and int(res["cpus_per_gpu"]) >= 1, (name, res)
            assert int(res["mem_mb"]) > 4000 and int(res["runtime"]) > 0, (name, res)  # the rule's, not the default
        else:
            assert CPU_RULE.fullmatch(name), f"rule {name} is neither a GPU job nor a known CPU-only job"
            assert int(res.get("gpu", 0)) == 0 and not {"cpus_per_gpu", "gpu_model", "gres"} & set(res), (name, res)
    # every shard of the geALLcoco render stages is its own GPU job (t2i.paper.curation.shards)
    shards = yaml.safe_load((dry_workflow / "config" / "paper.yaml").read_text())["t2i"]["paper"]["curation"]["shards"]
    for rule, stage in (("t2i_paper_teacher_geneval", "geneval"), ("t2i_paper_teacher_coco", "coco"),
                        ("t2i_paper_teacher_kept", "kept")):
        gpus = [int(res.get("gpu", 0)) for name, res in jobs if name == rule]
        assert len(gpus) == shards[stage] > 1 and min(gpus) >= 1, (rule, gpus)
    # the ImageNet reference jobs take their request from compute: of config/paper.yaml
    by_rule = dict(jobs)
    for rule, job in (("features", "features"), ("reference", "reference"), ("evaluate_generator", "evaluate"),
                      ("probes", "evaluate")):
        want = {k: str(compute[job][k]) for k in ("gpu", "cpus_per_gpu", "mem_mb", "runtime")}
        assert {k: by_rule[rule][k] for k in want} == want, (rule, by_rule[rule])


def test_mini_jobs_request_no_gpu(dry_workflow):
    jobs = dry_run_jobs(dry_workflow)
    assert jobs and all(int(res.get("gpu", 0)) == 0 for _, res in jobs), [j for j in jobs if j[1].get("gpu")]


def test_gpu_model_reaches_the_request(dry_workflow):
    cfg = yaml.safe_load((dry_workflow / "config" / "paper.yaml").read_text())
    cfg["compute"]["reference"]["gpu_model"] = "h100"
    (dry_workflow / "config" / "paper_h100.yaml").write_text(yaml.safe_dump(cfg))
    jobs = dry_run_jobs(dry_workflow, "--configfile=config/paper_h100.yaml")
    models = {name: res.get("gpu_model") for name, res in jobs if name in {"reference", "features"}}
    assert models == {"reference": "h100", "features": None}, models


class _Resources(dict):
    __getattr__ = dict.__getitem__


class _Job:
    def __init__(self, threads, **resources):
        self.threads, self.resources = threads, _Resources(resources)


@pytest.mark.parametrize("resources, want", [
    ({"gpu": 1, "cpus_per_gpu": 16}, {"--gpus=1", "--cpus-per-gpu=16"}),
    ({"gpu": 8, "cpus_per_gpu": 12, "gpu_model": "h100"}, {"--gpus=h100:8", "--cpus-per-gpu=12"}),
    ({"gpu": 0}, {"--cpus-per-task=4"}),
])
def test_plugin_reads_the_keys(resources, want):
    """The installed SLURM plugin's own functions turn what job_resources gives into sbatch flags."""
    from snakemake_executor_plugin_slurm.utils import set_gres_string
    from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting

    job = _Job(4, **resources)
    flags = set(set_gres_string(job).split()) | {get_cpu_setting(job, bool(resources["gpu"]))}
    assert flags == want, flags
