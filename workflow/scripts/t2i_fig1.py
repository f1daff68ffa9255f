"""Fig. 1 from the curve and the teacher / student grids of the T2I contract."""

import json

from rdm_core.io import load_tensors, read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.t2i import fig1
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    grids = {}
    for path in snakemake.input.grids:
        tensors, meta = load_tensors(path)
        grids[path.rsplit("/", 1)[-1].removesuffix(".safetensors")] = (tensors["images"].numpy(),
                                                                       json.loads(meta["prompts"]))
    write_outputs(snakemake.output, figure=fig1(read_json(snakemake.input.curve), grids))
