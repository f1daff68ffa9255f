"""The text-to-image contract's metrics file of one model: GenEval (six tasks, overall, from the official scorer's
per-image results, every rendered image scored), mean PickScore on the COCO-val captions (``pickscore``, the
abstract's) and on the Pick-a-Pic test prompts (``pickscore_pickapic``)."""

import json
from pathlib import Path

from rdm_core.eval.geneval import TASKS, parse_results
from rdm_core.io import load_tensors, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    expect = sum(1 for _ in Path(snakemake.input.images).glob("*/samples/*.png"))
    geneval = parse_results(snakemake.input.geneval, expect_images=expect)
    mean = {k: json.loads(load_tensors(snakemake.input[k])[1]["pickscore"]) for k in ("pickscore", "pickscore_pickapic")}
    out = {"model": snakemake.wildcards.model, "nfe": int(snakemake.params.nfe),
           "geneval": {k: geneval[k] for k in (*TASKS, "overall")}, **mean}
    write_json(snakemake.output[0], out)
    log.info("%s", out)
