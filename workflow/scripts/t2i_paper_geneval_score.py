"""Run the official GenEval scorer (external clone and environment) on one model's renders; parse its results."""

import subprocess
from pathlib import Path

from rdm_core.eval.geneval import parse_results, scorer_command
from rdm_core.io import atomic_path, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    images = Path(snakemake.input.images).resolve()  # the scorer runs in its clone
    expect = sum(1 for _ in images.glob("*/samples/*.png"))
    with atomic_path(snakemake.output.results) as tmp:
        argv = scorer_command(snakemake.params.scorer, images, tmp.resolve())
        log.info("running %s", " ".join(argv))
        done = subprocess.run(argv, cwd=snakemake.params.scorer["root"], capture_output=True, text=True)
        log.info("scorer output:\n%s\n%s", done.stdout[-20000:], done.stderr[-20000:])
        if done.returncode != 0:
            raise RuntimeError(f"the GenEval scorer failed (exit {done.returncode}); see {snakemake.log[0]}")
    scores = parse_results(snakemake.output.results, expect_images=expect)
    write_json(snakemake.output.scores, {"model": snakemake.wildcards.model, **scores})
    log.info("GenEval %s: overall %.4f", snakemake.wildcards.model, scores["overall"])
