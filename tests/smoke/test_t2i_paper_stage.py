"""The paper text-to-image rules end to end on tiny random models, a fake COCO tree and a stand-in GenEval scorer:
every contract file written with sane values. The scorer stand-in follows the official CLI and folder reading
(numbered prompt folders, metadata.jsonl, samples/<n>.png) and marks an image correct from its pixels."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from conftest import snakemake
from tiny_t2i import save_klein, save_pickscore, save_siglip2_text

pytestmark = pytest.mark.slow(seconds=190)

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
# Fig. 1c's points: an intermediate checkpoint (its own evaluation jobs) in one recipe is enough, the curve rules
# do not depend on the recipe
CURVE_STEPS = {"baseline": [0, 1, 2], "geallcoco": [0, 2]}

STAND_IN_SCORER = '''"""Stand-in for geneval's evaluation/evaluate_images.py: same CLI and reading; correct = bright image."""
import argparse, json, os, re
import numpy as np
from PIL import Image
p = argparse.ArgumentParser()
p.add_argument("imagedir"); p.add_argument("--outfile"); p.add_argument("--model-path")
p.add_argument("--model-config"); p.add_argument("--options", nargs="*", default=[])
args = p.parse_args()
rows = []
for sub in sorted(os.listdir(args.imagedir)):
    folder = os.path.join(args.imagedir, sub)
    if not (os.path.isdir(folder) and sub.isdigit()):
        continue
    meta = json.load(open(os.path.join(folder, "metadata.jsonl")))
    for name in sorted(os.listdir(os.path.join(folder, "samples"))):
        if re.match(r"\\d+\\.png", name):
            path = os.path.join(folder, "samples", name)
            ok = bool(np.asarray(Image.open(path)).mean() > 127)
            rows.append({"filename": path, "tag": meta["tag"], "prompt": meta["prompt"], "correct": ok})
with open(args.outfile, "w") as f:
    f.writelines(json.dumps(r) + "\\n" for r in rows)
'''


def fake_coco(root):
    rng = np.random.default_rng(0)
    words = ["a photo of a dog", "two cats", "a red cat", "a photo of two dogs"]
    for split, n in (("train2014", 24), ("val2014", 8)):
        (root / split).mkdir(parents=True)
        images = [{"id": i + 1, "file_name": f"COCO_{split}_{i + 1:012d}.jpg"} for i in range(n)]
        for img in images:
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / split / img["file_name"])
        ann = [{"id": 100 + i, "image_id": img["id"], "caption": words[i % 4]} for i, img in enumerate(images)]
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"captions_{split}.json").write_text(json.dumps({"images": images,
                                                                                "annotations": ann}))


def fake_geneval(root):
    (root / "prompts").mkdir(parents=True)
    (root / "evaluation").mkdir()
    rows = [{"tag": TASKS[i % 6], "include": [{"class": "dog", "count": 1}], "prompt": "a photo of a dog"}
            for i in range(553)]
    (root / "prompts" / "evaluation_metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "evaluation" / "evaluate_images.py").write_text(STAND_IN_SCORER)


# the teacher-side files no recipe changes: a recipe switch must leave them (and the jobs behind them) alone
TEACHER_SIDE = ("ctx/geneval.npy", "ctx/cocoval.npy", "ctx/pickapic.npy", "geneval/teacher_nfe4/results.jsonl",
                "geneval/teacher_nfe1/results.jsonl", "pickscore/cocoval/teacher_nfe4.safetensors",
                "pickscore/pickapic/teacher_nfe1.safetensors")


def test_t2i_paper_stage_on_tiny_models(workflow_copy, tmp_path, monkeypatch):
    """Both official recipes at tiny counts, one after the other in one checkout: the baseline trains against the
    real (fake) COCO pairs, geALLcoco against the curated teacher renders [GenEval-correct, at most 1 per prompt |
    the best of 3 per caption]; switching recipe reruns the pool and the student side only."""
    weights = tmp_path / "weights"
    save_klein(weights / "flux2_klein")
    save_siglip2_text(weights / "siglip2_text")
    save_pickscore(weights / "pickscore", weights / "pickscore_processor")
    fake_coco(tmp_path / "coco")
    fake_geneval(tmp_path / "geneval")
    cfg = yaml.safe_load((workflow_copy / "config" / "paper.yaml").read_text())
    job = {"device": "cpu", "gpu": 1, "cpus_per_gpu": 1, "mem_mb": 1000, "runtime": 10}
    cfg["t2i"]["paper"].update(
        weights_dir=str(weights), coco={"root": str(tmp_path / "coco"), "train_split": "train2014",
                                        "val_split": "val2014"},
        recipes={"baseline": {"reference": "coco", "landmarks": 8, "geneval_repeats": 0, "steps": 2, "keeper": 2,
                              "curve_steps": CURVE_STEPS["baseline"]},
                 "geallcoco": {"reference": "teacher", "landmarks": 8, "geneval_repeats": 2, "steps": 2, "keeper": 2,
                               "curve_steps": CURVE_STEPS["geallcoco"]}},
        curation={**cfg["t2i"]["paper"]["curation"], "geneval": {"seeds": 2, "cap": 1}, "coco": {"seeds": 3, "keep": 1},
                  "shards": {"geneval": 2, "coco": 2, "kept": 2}},
        resolution=32, ctx_len=5, ctx_batch=8, text_batch=8,
        reference={"encoders": ["effnet_lite0"], "sigma_scale": 0.25, "s_txt": 1.0, "feature_batch": 8, "workers": 0},
        train={"lr": 1e-3, "grad_clip": 4.0, "checkpoint_every": 1, "rollout": 4, "chunk": 2, "seed": 0,
               "loss_chunk": 64},
        sample_batch=128,
        geneval={"prompts": cfg["t2i"]["paper"]["geneval"]["prompts"], "root": str(tmp_path / "geneval"),
                 "detector_dir": str(tmp_path), "detector": "mask2former", "detector_config": None, "options": {"threshold": 0.3}, "samples": 1,
                 "seed_base": 46_000_000},
        pickscore={"batch": 4, "cocoval": {"n_prompts": 6, "seed": 1},
                   "pickapic": {**cfg["t2i"]["paper"]["pickscore"]["pickapic"], "ctx_len": 7}}, grid={"n": 4},
        compute={k: job for k in cfg["t2i"]["paper"]["compute"]})
    # the stand-in scorer runs in this environment: its env file pins what this one has (no conda here)
    (workflow_copy / "workflow" / "envs" / "geneval.yaml").write_text(
        f"dependencies:\n  - pip:\n      - numpy=={np.__version__}\n")
    monkeypatch.setenv("PATH", f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}")  # torchrun
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    t2i = workflow_copy / "resources" / "paper" / "t2i"
    stamps = None
    for recipe in ("baseline", "geallcoco"):
        cfg["t2i"]["paper"]["recipe"] = recipe
        (workflow_copy / "config" / "tiny_paper.yaml").write_text(yaml.safe_dump(cfg))
        proc = snakemake(workflow_copy, "--cores", "2", "--configfile=config/tiny_paper.yaml", "t2i_paper",
                         timeout=1800)
        assert proc.returncode == 0, proc.stdout[-6000:]
        now = {f: (t2i / f).stat().st_mtime_ns for f in TEACHER_SIDE}
        assert stamps in (None, now), "the recipe switch reran teacher-side jobs"
        stamps = now
        check_recipe(recipe, workflow_copy)


def check_recipe(recipe, workflow_copy):
    """The contract files of one recipe's run, with sane values."""
    res = workflow_copy / "results" / "paper" / "metrics" / "t2i"
    for model, nfe in (("teacher_nfe4", 4), ("teacher_nfe1", 1), ("student_joint", 1), ("student_marginal", 1)):
        m = json.loads((res / f"{model}.json").read_text())
        assert m["model"] == model and m["nfe"] == nfe
        assert set(m["geneval"]) == {*TASKS, "overall"}
        assert all(0 <= v <= 1 for v in m["geneval"].values())
        assert m["geneval"]["overall"] == pytest.approx(sum(m["geneval"][t] for t in TASKS) / 6)
        assert np.isfinite(m["pickscore"]) and np.isfinite(m["pickscore_pickapic"])
    curve = json.loads((res / "curve.json").read_text())
    assert curve["compute_unit"] == "GPU-hours" and [p["step"] for p in curve["points"]] == CURVE_STEPS[recipe]
    compute = [p["compute"] for p in curve["points"]]
    assert compute[0] == 0 and all(a < b for a, b in zip(compute, compute[1:])), compute
    teacher = json.loads((res / "teacher_nfe4.json").read_text())
    assert curve["teacher"] == {"geneval": teacher["geneval"]["overall"], "pickscore": teacher["pickscore"]}
    wins = json.loads((res / "pickscore_winrates.json").read_text())
    assert {r["opponent"] for r in wins["pairs"]} == {"teacher_nfe4", "teacher_nfe1", "student_marginal"}
    from rdm_core.io import load_tensors

    grids = workflow_copy / "resources" / "paper" / "t2i" / "grids"
    a, meta_a = load_tensors(grids / "teacher_nfe4.safetensors")
    b, meta_b = load_tensors(grids / "student_joint.safetensors")
    assert a["images"].shape == b["images"].shape == (4, 32, 32, 3) and str(a["images"].dtype) == "torch.uint8"
    assert json.loads(meta_a["prompts"]) == json.loads(meta_b["prompts"]) and len(json.loads(meta_a["prompts"])) == 4
    t2i = workflow_copy / "resources" / "paper" / "t2i"
    images = t2i / "geneval" / "student_joint" / "images"
    assert len(list(images.glob("*/samples/*.png"))) == 553
    features, _ = load_tensors(t2i / "features" / "effnet_lite0.safetensors")
    pool = json.loads((t2i / "prompts" / "pool.json").read_text())
    if recipe == "baseline":
        assert not (t2i / "curation").exists() and len(features["features"]) == 24
        assert len(pool["rows"]) == 24    # a COCO-only pool
        return
    assert len(pool["rows"]) == 24 + 553 * 2
    # the curation's render stages in 2 shards each, over contiguous rows: GenEval prompts 0-275 | 276-552
    teacher = [t2i / "geneval" / f"curation_{k}" / "images" for k in range(2)]
    assert [sorted(int(d.name) for d in folder.iterdir() if d.is_dir()) for folder in teacher] == \
        [list(range(276)), list(range(276, 553))]
    assert sum(len(list(folder.glob("*/samples/*.png"))) for folder in teacher) == 553 * 2
    scored = [json.loads(line) for k in range(2)
              for line in (t2i / "geneval" / f"curation_{k}" / "results.jsonl").read_text().splitlines()]
    assert len(scored) == 553 * 2
    correct = {int(r["filename"].split(os.sep)[-3]) for r in scored if r["correct"]}
    ref = json.loads((t2i / "curation" / "reference.json").read_text())
    assert ref["blocks"] == {"geneval": len(correct), "coco": 24}    # one per GenEval prompt with a correct render
    assert len(ref["pairs"]) == len(ref["text_rows"]) == len(features["features"]) == len(correct) + 24
    parts = [load_tensors(t2i / "curation" / "coco_pickscore" / f"{k}.safetensors") for k in range(2)]
    assert [json.loads(meta["rows"]) for _, meta in parts] == [[0, 12], [12, 24]]
    scores = torch.cat([tensors["scores"] for tensors, _ in parts])
    assert scores.shape == (24, 3) and [s for _, s in ref["coco_renders"]] == scores.argmax(1).tolist()
    prompts = pool["prompts"]
    assert all(prompts[r] == q["caption"] for r, q in zip(ref["text_rows"], ref["pairs"]))  # tau rows = captions
    kept = [sorted(p.name for p in (t2i / "curation" / "coco" / str(k)).glob("*.png")) for k in range(2)]
    renders = ref["coco_renders"]
    assert kept == [[f"{i:08d}_s{s}.png" for i, s in part] for part in (renders[:12], renders[12:])]
    assert all((workflow_copy / ref["root"] / q["file"]).is_file() for q in ref["pairs"])
