"""GenEval of one model from the official scorer's per-image results (every rendered image scored)."""

from pathlib import Path

from rdm_core.eval.geneval import parse_results
from rdm_core.io import write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    expect = sum(1 for _ in Path(snakemake.input.images).glob("*/samples/*.png"))
    scores = parse_results(snakemake.input.results, expect_images=expect)
    write_json(snakemake.output[0], {"model": snakemake.wildcards.model, **scores})
    log.info("GenEval %s: overall %.4f", snakemake.wildcards.model, scores["overall"])
