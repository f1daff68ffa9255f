"""Table 2 from the four metric files of the T2I contract."""

from rdm_core.io import read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.t2i import table2
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    metrics = {m["model"]: m for m in map(read_json, snakemake.input.metrics)}
    write_outputs(snakemake.output, tables=table2(metrics))
