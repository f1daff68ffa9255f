"""Table 4 (low-dimensional): the distance ablation at B = 128, ranked by medDist."""

from rdm_core.report.artifacts import write_outputs
from rdm_core.report.toy import cell_table, table4
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    write_outputs(snakemake.output, tables=table4(cell_table(snakemake.input.cells)))
