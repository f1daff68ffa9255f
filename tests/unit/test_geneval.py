"""GenEval harness: the protocol's seeds and folder layout, the scorer command, the results parser."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rdm_core.eval.geneval import (N_PROMPTS, TASKS, load_prompts, parse_results, render_prompts, sample_seed,
                                   scorer_command)
from rdm_core.reference.curation import shard_rows

RECORDED = Path(__file__).parents[1] / "data" / "geneval" / "results.jsonl"


def rows(n):
    return [{"tag": TASKS[i % 6], "include": [{"class": "dog", "count": 1}], "prompt": f"a photo of {i} dogs"}
            for i in range(n)]


def test_seeds_follow_the_protocol():
    assert sample_seed(0, 0) == 46_000_000
    assert sample_seed(3, 2) == 46_000_302
    assert sample_seed(552, 3) == 46_055_203
    seeds = {sample_seed(i, j) for i in range(N_PROMPTS) for j in range(4)}
    assert len(seeds) == 4 * N_PROMPTS
    with pytest.raises(ValueError):
        sample_seed(0, 100)


def test_render_writes_the_official_layout_and_resumes(tmp_path):
    calls = []

    def render(idx, seeds):
        calls.append((list(idx), list(seeds)))
        return np.stack([np.full((8, 8, 3), s % 251, dtype=np.uint8) for s in seeds])

    meta = rows(3)
    assert render_prompts(tmp_path, meta, render, n_samples=4, batch_prompts=2, log=lambda m: None) == 3
    assert calls[0] == ([0, 0, 0, 0, 1, 1, 1, 1], [46_000_000 + k for k in (0, 1, 2, 3, 100, 101, 102, 103)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00000", "00001", "00002"]
    for i in range(3):
        # the scorer reads metadata.jsonl with json.load: one object
        assert json.load(open(tmp_path / f"{i:05d}" / "metadata.jsonl")) == meta[i]
        assert sorted(p.name for p in (tmp_path / f"{i:05d}" / "samples").iterdir()) == \
            ["0000.png", "0001.png", "0002.png", "0003.png"]
    image = np.array(Image.open(tmp_path / "00002" / "samples" / "0003.png"))
    assert image.shape == (8, 8, 3) and image[0, 0, 0] == (46_000_203 % 251)
    (tmp_path / "00001" / "samples" / "0002.png").unlink()  # a killed job: prompt 1 is incomplete
    calls.clear()
    assert render_prompts(tmp_path, meta, render, n_samples=4, log=lambda m: None) == 1
    assert calls == [([1, 1, 1, 1], [46_000_100, 46_000_101, 46_000_102, 46_000_103])]


@pytest.mark.parametrize("shards", [2, 3])
def test_sharded_render_gives_the_unsharded_folders(tmp_path, shards):
    """The curation's GenEval renders by shard (disjoint sub-folders, the same layout): together the same prompt
    folders, byte for byte, as one job over every prompt."""
    def render(idx, seeds):
        return np.stack([np.full((8, 8, 3), s % 251, dtype=np.uint8) for s in seeds])

    meta = rows(7)
    render_prompts(tmp_path / "one", meta, render, n_samples=3, log=lambda m: None)
    for k in range(shards):
        render_prompts(tmp_path / f"shard{k}", meta, render, n_samples=3, log=lambda m: None,
                       prompts=shard_rows(len(meta), shards, k))
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    parts = sorted((p.relative_to(d), p) for k in range(shards) for d in [tmp_path / f"shard{k}"]
                   for p in d.rglob("*") if p.is_file())
    assert [rel for rel, _ in parts] == one and len(one) == 7 * 4
    assert all(p.read_bytes() == (tmp_path / "one" / rel).read_bytes() for rel, p in parts)


def test_load_prompts_checks_the_official_file(tmp_path):
    path = tmp_path / "prompts" / "evaluation_metadata.jsonl"
    with pytest.raises(FileNotFoundError, match="t2i.paper.geneval.root"):
        load_prompts(path, "t2i.paper.geneval.root")
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(N_PROMPTS)))
    assert len(load_prompts(path, "k")) == N_PROMPTS
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(10)))
    with pytest.raises(ValueError, match="553"):
        load_prompts(path, "k")
    assert len(load_prompts(path, "k", expect=None)) == 10
    path.write_text(json.dumps({"tag": "style", "prompt": "x", "include": [{}]}) + "\n")
    with pytest.raises(ValueError, match="known tag"):
        load_prompts(path, "k", expect=None)


def test_parser_on_a_recorded_scorer_output():
    """Per task: the share of correct images; overall: the unweighted mean of the six (not per image)."""
    scores = parse_results(RECORDED)
    want = {"single_object": 3 / 4, "two_object": 2 / 4, "counting": 1 / 4, "colors": 4 / 4, "position": 1 / 4,
            "color_attr": 5 / 8}
    for task, value in want.items():
        assert scores[task] == pytest.approx(value)
    assert scores["overall"] == pytest.approx(sum(want.values()) / 6)
    assert scores["overall"] != pytest.approx(16 / 28)  # the per-image mean
    assert scores["images"] == 28 and scores["per_task_images"]["color_attr"] == 8
    with pytest.raises(ValueError, match="expected 2212"):
        parse_results(RECORDED, expect_images=2212)


def test_parser_rejects_a_missing_task(tmp_path):
    lines = [line for line in RECORDED.read_text().splitlines() if '"tag": "position"' not in line]
    (tmp_path / "r.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="position"):
        parse_results(tmp_path / "r.jsonl")


def test_scorer_command(tmp_path):
    (tmp_path / "geneval" / "evaluation").mkdir(parents=True)
    (tmp_path / "geneval" / "evaluation" / "evaluate_images.py").write_text("")
    scorer = {"root": str(tmp_path / "geneval"), "detector_dir": "/ckpt",
              "detector": "mask2former_swin-s", "detector_config": "/mmdet/cfg.py", "options": {"threshold": 0.3}}
    argv = scorer_command(scorer, "/out/images", "/out/results.jsonl")
    assert argv[:2] == [str(tmp_path / "geneval/evaluation/evaluate_images.py"), "/out/images"]
    assert argv[argv.index("--outfile") + 1] == "/out/results.jsonl"
    assert argv[argv.index("--model-config") + 1] == "/mmdet/cfg.py"
    assert argv[argv.index("--options") + 1:] == ["model=mask2former_swin-s", "threshold=0.3"]


RUN = Path(__file__).parents[2] / "workflow" / "scripts" / "geneval_run.py"


def test_scoring_entry_point_checks_env_and_clone(tmp_path):
    """geneval_run.py: pins of the env file unmet -> exit naming the file; a missing clone -> exit naming the config
    key; otherwise it runs the scorer with the given arguments."""
    import subprocess
    import sys

    def run(env_text, *argv):
        (tmp_path / "env.yaml").write_text(env_text)
        return subprocess.run([sys.executable, str(RUN), str(tmp_path / "env.yaml"), *argv], capture_output=True,
                              text=True)

    wrong = run("dependencies:\n  - pip:\n      - mmdet==3.3.0\n", "x.py")
    assert wrong.returncode == 1 and "own environment" in wrong.stderr and "mmdet missing (pinned 3.3.0)" in wrong.stderr
    pinned = f"dependencies:\n  - pip:\n      - numpy=={np.__version__}\n"
    missing = run(pinned, str(tmp_path / "nowhere" / "evaluate_images.py"))
    assert missing.returncode == 1 and "t2i.paper.geneval.root" in missing.stderr
    scorer = tmp_path / "evaluate_images.py"
    scorer.write_text("import sys; print('scored', sys.argv[1:])\n")
    ok = run(pinned, str(scorer), "imgs", "--outfile", "r.jsonl")
    assert ok.returncode == 0 and "scored ['imgs', '--outfile', 'r.jsonl']" in ok.stdout
