"""Figure 4: the toy batch axis (Nystrom arm over B) and, where it runs, the class-conditional sweep over N."""

import pandas as pd

from rdm_core.io import read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.classcond import fig4_figure
from rdm_core.report.toy import cell_table
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    cells = cell_table(snakemake.input.cells).sort_values("batch")
    sweep = pd.read_csv(snakemake.input.sweep[0]) if snakemake.input.sweep else None
    figure = fig4_figure(cells, read_json(snakemake.input.floor), sweep, snakemake.params.encoder)
    write_outputs(snakemake.output, figure=figure, tables=cells)
