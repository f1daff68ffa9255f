"""Figure 4 (low-dimensional panel): the Nystrom arm over the generation batch B."""

from rdm_core.io import read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.toy import cell_table, fig4_lowdim
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    cells = cell_table(snakemake.input.cells).sort_values("batch")
    write_outputs(snakemake.output, figure=fig4_lowdim(cells, read_json(snakemake.input.floor)), tables=cells)
