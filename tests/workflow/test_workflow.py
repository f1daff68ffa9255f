"""The workflow as users drive it: dry runs of every target, lint, and config rejection."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from conftest import ROOT, snakemake

ARTIFACTS = list(yaml.safe_load((ROOT / "config" / "artifacts.yaml").read_text()))
TARGETS = ["reproduce_all", "verify", *ARTIFACTS]


def test_dry_run_every_target(dry_workflow):
    """Every artifact (and reproduce_all, verify) resolves: one dry run asks for all of them, and each one's
    rule is in its job table."""
    proc = snakemake(dry_workflow, "-n", *TARGETS)
    assert proc.returncode == 0, proc.stdout
    planned = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert [t for t in TARGETS if planned.get(t) != "1"] == [], proc.stdout[-3000:]


@pytest.mark.parametrize("configfile", ["config/smoke.yaml", "config/paper.yaml"])
@pytest.mark.parametrize("target", ["reproduce_all", "reference_all"])
def test_dry_run_other_scales(configfile, target, dry_workflow):
    """Every scale dry-runs completely with no data or weights present."""
    proc = snakemake(dry_workflow, "-n", f"--configfile={configfile}", target)
    assert proc.returncode == 0, proc.stdout


def test_paper_reference_lists_every_encoder(dry_workflow):
    proc = snakemake(dry_workflow, "-n", "--configfile=config/paper.yaml", "reference_all")
    for encoder in ("inception", "dreamsim", "cradiov3_l", "flux_vae"):
        assert f"resources/paper/reference/{encoder}/nystrom.safetensors" in proc.stdout


def test_classcond_stage_per_scale(dry_workflow):
    """The class-conditional stage runs at every scale: the mini generators (every arm, one sample set per flow
    NFE) at mini and smoke scale, pMF-H on ImageNet at paper scale (every arm one 8-GPU torchrun job)."""
    mini = snakemake(dry_workflow, "-n", "--forceall", "table1", "table3", "table6", "fig5", "fig6").stdout
    for arm in ("irdm", "uniform", "gaming", "batch_n128", "batch_n1024"):
        assert f"resources/mini/classcond/weights/{arm}.safetensors" in mini, arm
    for nfe in (1, 2, 4, 8, 16):
        assert f"results/mini/metrics/eval/flow_nfe{nfe}.json" in mini
    smoke = snakemake(dry_workflow, "-n", "--configfile=config/smoke.yaml", "reproduce_all").stdout
    assert "resources/smoke/classcond/weights/irdm.safetensors" in smoke
    paper = snakemake(dry_workflow, "-n", "--configfile=config/paper.yaml", "reproduce_all").stdout
    for arm in ("irdm", "gated", "uniform", "gaming", "batch_n512", "batch_n10240"):
        assert f"resources/paper/imagenet/weights/{arm}.safetensors" in paper, arm
    assert "resources/paper/generators/base.pth" in paper and "generators/released.pth" not in paper
    assert "gpu=8, cpus_per_gpu=12" in paper and "classcond" not in paper and "flow_nfe" not in paper


def test_paper_use_released_swaps_training_for_download(tmp_path, dry_workflow):
    """use_released: the iRDM generator is the released checkpoint (fetched), so the irdm arm does not train; an
    external generator's .npz is scored from the path the config gives."""
    external = tmp_path / "repae.npz"
    np.savez(external, arr_0=np.zeros((2, 8, 8, 3), np.uint8))
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    paper["imagenet"].update(use_released=True, external={"repae_sit_xl": str(external)})
    overlay = tmp_path / "released.yaml"
    overlay.write_text(yaml.safe_dump(paper))
    proc = snakemake(dry_workflow, "-n", f"--configfile={overlay}", "table1", "table7")
    assert proc.returncode == 0, proc.stdout
    assert "resources/paper/generators/released.pth" in proc.stdout
    assert "imagenet/weights/irdm.safetensors" not in proc.stdout  # the single-encoder row still trains
    assert str(external) in proc.stdout and "results/paper/metrics/eval/repae_sit_xl.json" in proc.stdout


def test_lint_clean(dry_workflow):
    proc = snakemake(dry_workflow, "--lint")
    assert proc.returncode == 0, proc.stdout
    assert "Congratulations" in proc.stdout


BAD_CONFIGS = {
    "wrong type": ("toy:\n  train:\n    iterations: many\n", "toy.train.iterations", "not of type 'integer'"),
    "unknown key": ("toy:\n  trian: {}\n", "toy.trian", "unknown key"),
    "negative batch": ("toy:\n  fig3:\n    batch_sizes: [8, -32]\n", "toy.fig3.batch_sizes.1", "less than the minimum"),
    "unknown distance": ("toy:\n  fig4:\n    distance: mmd_magic\n", "toy.fig4.distance", "is not one of"),
    "bad scale name": ("scale: '../escape'\n", "scale", "does not match"),
    "classcond unknown key": ("classcond:\n  flwo: {}\n", "classcond.flwo", "unknown key"),
    "classcond negative rollout": ("classcond:\n  batch_sweep:\n    rollouts: [128, -256]\n",
                                   "classcond.batch_sweep.rollouts.1", "less than the minimum"),
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_malformed_config_fails_before_any_job(workflow_copy, case):
    text, key, message = BAD_CONFIGS[case]
    (workflow_copy / "bad.yaml").write_text(text)
    proc = snakemake(workflow_copy, "--cores", "1", "--configfile=bad.yaml", "reproduce_all")
    assert proc.returncode != 0
    assert f"  {key}: " in proc.stdout and message in proc.stdout, proc.stdout
    assert not (workflow_copy / "results").exists() and not (workflow_copy / "resources").exists()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```bash\n")[1:3]]
    assert "reproduce_all" in blocks[0] and "pytest" in blocks[1]
    assert blocks[1] in (ROOT / ".ci" / "run").read_text()


def test_paper_t2i_lists_every_job(dry_workflow):
    """At paper scale the text-to-image contract files come from the FLUX.2 rules: both arms trained in one 8-GPU
    torchrun job each, every evaluated model rendered and scored (GenEval externally, PickScore), the curve's
    checkpoints; nothing of it at mini scale."""
    paper = snakemake(dry_workflow, "-n", "-p", "--configfile=config/paper.yaml", "t2i_paper").stdout
    for path in ("results/paper/metrics/t2i/curve.json", "results/paper/metrics/t2i/pickscore_winrates.json",
                 "resources/paper/t2i/grids/student_joint.safetensors",
                 "resources/paper/t2i/grids/teacher_nfe4.safetensors",
                 "resources/paper/t2i/reference/marginal.safetensors", "resources/paper/t2i/ctx/pool.npy",
                 "resources/paper/t2i/students/joint/s0300.safetensors"):
        assert path in paper, path
    for model in ("teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal", "student_joint_s20",
                  "student_joint_s160"):
        assert f"results/paper/metrics/t2i/{model}.json" in paper, model
        assert f"resources/paper/t2i/geneval/{model}/results.jsonl" in paper, model
    assert "student_joint_s180" not in paper and "student_marginal_s" not in paper  # the keeper is student_joint
    assert paper.count("torchrun --standalone --nproc_per_node=8 workflow/scripts/t2i_paper_train.py") == 2
    artifacts = snakemake(dry_workflow, "-n", "-p", "--configfile=config/paper.yaml", "table2", "fig1").stdout
    for rule in ("t2i_paper_train", "t2i_paper_geneval_score", "t2i_paper_pickscore", "t2i_paper_curve",
                 *GEALL_JOBS):
        assert f"rule {rule}:" in artifacts, rule
    # the default recipe, geALLcoco: the reference is the curated teacher renders, built from scratch, each render
    # stage as curation.shards jobs (16 GenEval render and scoring jobs, 64 COCO scoring jobs, 16 kept-render jobs)
    shards = {"t2i_paper_teacher_geneval": 16, "t2i_paper_teacher_coco": 64, "t2i_paper_teacher_kept": 16}
    for rule, n in shards.items():
        assert artifacts.count(f"rule {rule}:") == n, rule
    for k in (0, 15):
        for path in (f"resources/paper/t2i/geneval/curation_{k}/images", f"resources/paper/t2i/curation/coco/{k}",
                     f"resources/paper/t2i/geneval/curation_{k}/results.jsonl"):
            assert path in artifacts, path
    assert "resources/paper/t2i/geneval/curation_16/" not in artifacts and "curation/coco/16" not in artifacts
    assert "resources/paper/t2i/curation/coco_pickscore/63.safetensors" in artifacts
    assert "coco_pickscore/64.safetensors" not in artifacts
    for path in ("resources/paper/t2i/curation/reference.json", "resources/paper/t2i/students/joint/s0300.safetensors"):
        assert path in artifacts, path
    # scored: every evaluated model's renders and the curation's 16 shards
    assert artifacts.count("rule t2i_paper_geneval_score:") == artifacts.count("rule t2i_paper_geneval_images:") + 16
    assert "rule t2i_paper_prebuilt:" not in artifacts
    mini = snakemake(dry_workflow, "-n", "--forceall", "reproduce_all").stdout
    assert "t2i_paper" not in mini


GEALL_JOBS = ("t2i_paper_teacher_geneval", "t2i_paper_teacher_coco", "t2i_paper_curate", "t2i_paper_teacher_kept",
              "t2i_paper_features", "t2i_paper_reference")


def test_paper_t2i_baseline_recipe_trains_on_real_coco(dry_workflow):
    """recipe baseline (configs/flux.yaml): the real COCO pairs are the reference (no teacher render or curation
    job), a COCO-only pool, 150 steps; the released student belongs to the other recipe."""
    out = snakemake(dry_workflow, "-n", "-p", "--configfile=config/paper.yaml", "table2", "fig1",
                    "--config", "t2i={paper: {recipe: baseline}}")
    assert out.returncode == 0, out.stdout[-3000:]
    for rule in ("t2i_paper_features", "t2i_paper_reference", "t2i_paper_train"):
        assert f"rule {rule}:" in out.stdout, rule
    for rule in GEALL_JOBS[:4]:
        assert f"rule {rule}:" not in out.stdout, rule
    assert "students/joint/s0150.safetensors" in out.stdout and "s0300" not in out.stdout
    bad = snakemake(dry_workflow, "-n", "--configfile=config/paper.yaml", "table2",
                    "--config", "t2i={use_released: true, paper: {recipe: baseline}}")
    assert bad.returncode != 0 and "the released student is the geallcoco recipe's" in bad.stdout
    bad = snakemake(dry_workflow, "-n", "--configfile=config/paper.yaml", "table2",
                    "--config", "t2i={paper: {recipe: flux}}")
    assert bad.returncode != 0 and "t2i.paper.recipe: 'flux' is none of t2i.paper.recipes" in bad.stdout


def test_paper_t2i_prebuilt_bundles_are_an_explicit_alternative(dry_workflow, tmp_path):
    """curation.prebuilt.use: the joint reference comes from the authors' bundles (their files named, the marginal
    arm still built from the curated renders); a missing bundle fails the plan, never a silent rebuild."""
    names = ["inception", "convnext", "mae", "clip", "dinov3_l", "pe_core_l", "siglip2", "aimv2_huge",
             "webssl_dino_1b", "dreamsim"]
    for name in names:
        (tmp_path / f"{name}_joint_M8192.pt").write_bytes(b"")
    out = snakemake(dry_workflow, "-n", "-p", "--configfile=config/paper.yaml", "table2", "fig1", "--config",
                    f"t2i={{paper: {{curation: {{prebuilt: {{use: true, dir: {tmp_path}}}}}}}}}")
    assert out.returncode == 0, out.stdout[-3000:]
    plan = dict(re.findall(r"^(\w+)\s+(\d+)$", out.stdout, re.M))
    assert plan["t2i_paper_prebuilt"] == "1" and plan["t2i_paper_reference"] == "1"  # joint prebuilt, marginal built
    assert str(tmp_path / "dreamsim_joint_M8192.pt") in out.stdout
    (tmp_path / "mae_joint_M8192.pt").unlink()
    gone = snakemake(dry_workflow, "-n", "--configfile=config/paper.yaml", "table2", "--config",
                     f"t2i={{paper: {{curation: {{prebuilt: {{use: true, dir: {tmp_path}}}}}}}}}")
    assert gone.returncode != 0 and str(tmp_path / "mae_joint_M8192.pt") in gone.stdout


@pytest.mark.slow(seconds=16)  # three real jobs
def test_paper_t2i_prebuilt_bundles_are_checked_then_converted(workflow_copy, tmp_path):
    """t2i_paper_prebuilt on tiny bundles in the official fields ({Z, alpha, sigma, k_rr, beta, d_txt}): a null
    digest is refused with the file's digest and the key to pin it in, a wrong one names the file; pinned, the
    joint reference holds the bundles as they were."""
    import hashlib

    import torch

    from rdm_core.reference.joint_io import load_joint_reference

    names = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())["t2i"]["paper"]["curation"]["prebuilt"]["sha256"]
    gen, digests = torch.Generator().manual_seed(0), {}
    for k, name in enumerate(names):
        bundle = {"Z": torch.randn(8192, 3, generator=gen), "alpha": torch.rand(8192, generator=gen),
                  "sigma": 0.5 + k, "k_rr": 0.25, "beta": 0.5 + k, "d_txt": 1152}
        torch.save(bundle, tmp_path / f"{name}_joint_M8192.pt")
        digests[name] = hashlib.sha256((tmp_path / f"{name}_joint_M8192.pt").read_bytes()).hexdigest()
    target = "resources/paper/t2i/reference/joint.safetensors"

    def run(sha):
        overlay = {"t2i": {"paper": {"curation": {"prebuilt": {"use": True, "dir": str(tmp_path), "sha256": sha}}}}}
        (workflow_copy / "config" / "prebuilt.yaml").write_text(yaml.safe_dump(overlay))
        return snakemake(workflow_copy, "--cores", "1", "--configfile", "config/paper.yaml", "config/prebuilt.yaml",
                         "--allowed-rules", "t2i_paper_prebuilt", "--", target)

    unpinned = run({**digests, "mae": None})
    log = (workflow_copy / "resources" / "paper" / "logs" / "t2i" / "prebuilt.log").read_text()
    assert unpinned.returncode != 0 and "t2i.paper.curation.prebuilt.sha256.mae" in log and digests["mae"] in log
    wrong = run({**digests, "clip": "0" * 64})
    log = (workflow_copy / "resources" / "paper" / "logs" / "t2i" / "prebuilt.log").read_text()
    assert wrong.returncode != 0 and f"{tmp_path / 'clip_joint_M8192.pt'}: sha256 {digests['clip']}" in log
    assert not (workflow_copy / target).exists()
    ok = run(digests)
    assert ok.returncode == 0, ok.stdout[-3000:]
    ref = load_joint_reference(workflow_copy / target)
    for k, name in enumerate(names):
        want = torch.load(tmp_path / f"{name}_joint_M8192.pt", weights_only=True)
        b = ref["bundles"][name]
        assert torch.equal(b.Z, want["Z"]) and torch.equal(b.alpha, want["alpha"]) and b.k_rr == 0.25
        assert b.sigma == ref["sigma"][name] == ref["beta"][name] == 0.5 + k


def test_paper_t2i_use_released_is_evaluation_alone(dry_workflow):
    """t2i.use_released: Table 2 and Fig. 1 from the released joint student (fetched, loaded as the native .pth),
    no training, reference or marginal job; the curve is its two endpoints."""
    out = snakemake(dry_workflow, "-n", "-p", "--configfile=config/paper.yaml", "table2", "fig1",
                    "--config", "t2i={use_released: true}").stdout
    assert "rule fetch_t2i_released:" in out and "t2i/released/flux2_klein_1step_rdm_geallcoco_s180.pth" in out
    for rule in ("t2i_paper_train", "t2i_paper_text", "irdm_arm", *GEALL_JOBS):   # no training, no curation
        assert f"rule {rule}:" not in out, rule
    assert "student_marginal" not in out and "student_joint_s" not in out
    for rule in ("t2i_paper_geneval_score", "t2i_paper_pickscore", "t2i_paper_curve", "table2"):
        assert f"rule {rule}:" in out, rule


def test_geneval_scoring_without_its_conda_env_fails_at_once(workflow_copy, tmp_path):
    """Run without --use-conda, the GenEval scoring job stops before the scorer, naming workflow/envs/geneval.yaml
    and --use-conda; nothing is written. The env file pins the SPEC 2.5 scorer stack."""
    env = (workflow_copy / "workflow" / "envs" / "geneval.yaml").read_text()
    for pin in ("mmdet==3.3.0", "mmcv==2.1.0", "open-clip-torch==3.3.0", "transformers==4.40.2", "pytorch=2.1"):
        assert pin in env, pin
    (tmp_path / "geneval" / "evaluation").mkdir(parents=True)
    (tmp_path / "geneval" / "evaluation" / "evaluate_images.py").write_text("raise SystemExit('scorer ran')\n")
    images = workflow_copy / "resources" / "paper" / "t2i" / "geneval" / "teacher_nfe4" / "images" / "00000"
    images.mkdir(parents=True)
    target = "resources/paper/t2i/geneval/teacher_nfe4/results.jsonl"
    proc = snakemake(workflow_copy, "--cores", "1", "--configfile=config/paper.yaml", "--allowed-rules",
                     "t2i_paper_geneval_score", "--config", f"t2i={{paper: {{geneval: {{root: {tmp_path / 'geneval'}}}}}}}",
                     "--", target)
    assert proc.returncode != 0
    assert "GenEval scoring runs in its own environment workflow/envs/geneval.yaml" in proc.stdout, proc.stdout[-3000:]
    assert "--use-conda" in proc.stdout and "scorer ran" not in proc.stdout
    assert not (workflow_copy / target).exists()
