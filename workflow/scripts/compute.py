"""The compute table: wall time and peak memory per stage, from the rules' benchmark files."""

from rdm_core.report.artifacts import write_outputs
from rdm_core.report.compute import compute_table
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    write_outputs(snakemake.output, tables=compute_table(snakemake.input, snakemake.params.root), floatfmt=".1f")
