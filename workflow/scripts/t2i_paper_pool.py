"""The generator's prompt pool: the COCO captions in pair order (so tau of the reference captions is its head),
then each GenEval prompt once; its rows repeat each GenEval prompt geneval_repeats times (0: a COCO-only pool)."""

from rdm_core.io import read_json, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    pairs = read_json(snakemake.input.reference)["pairs"]
    geneval = read_json(snakemake.input.geneval)["prompts"]
    repeats = snakemake.params.geneval_repeats
    prompts = [q["caption"] for q in pairs] + list(geneval)
    rows = list(range(len(pairs))) + [len(pairs) + i for i in range(len(geneval)) for _ in range(repeats)]
    write_json(snakemake.output[0], {"prompts": prompts, "rows": rows, "n_reference": len(pairs)})
    log.info("pool of %d rows (%d prompts, GenEval x %d)", len(rows), len(prompts), repeats)
