"""The text-to-image contract's metrics file of one model: GenEval (six tasks, overall) and mean PickScore."""

import json

from rdm_core.eval.geneval import TASKS
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    geneval = read_json(snakemake.input.geneval)
    meta = load_tensors(snakemake.input.pickscore)[1]
    out = {"model": snakemake.wildcards.model, "nfe": int(snakemake.params.nfe),
           "geneval": {k: geneval[k] for k in (*TASKS, "overall")}, "pickscore": json.loads(meta["pickscore"])}
    write_json(snakemake.output[0], out)
    log.info("%s", out)
