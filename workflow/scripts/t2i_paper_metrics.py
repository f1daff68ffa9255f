"""The text-to-image contract's metrics file of one model: GenEval (six tasks, overall), mean PickScore on the
COCO-val captions (``pickscore``, the abstract's) and on the Pick-a-Pic test prompts (``pickscore_pickapic``)."""

import json

from rdm_core.eval.geneval import TASKS
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    geneval = read_json(snakemake.input.geneval)
    mean = {k: json.loads(load_tensors(snakemake.input[k])[1]["pickscore"]) for k in ("pickscore", "pickscore_pickapic")}
    out = {"model": snakemake.wildcards.model, "nfe": int(snakemake.params.nfe),
           "geneval": {k: geneval[k] for k in (*TASKS, "overall")}, **mean}
    write_json(snakemake.output[0], out)
    log.info("%s", out)
