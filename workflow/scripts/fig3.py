"""Figure 3: the spiral grid, from the toy cells."""

from rdm_core.io import load_tensors, read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.toy import cell_table, fig3_figure
from rdm_core.runlog import rule_log
from rdm_core.toy import spiral_curve

with rule_log(snakemake.log[0]):
    spec = snakemake.params.toy["fig3"]
    cells = cell_table(snakemake.input.cells)
    samples = {}
    for path in snakemake.input.samples:
        tensors, meta = load_tensors(path)
        samples[(meta["distance"], int(meta["batch"]))] = tensors["samples"].numpy()
    fig = fig3_figure(cells, samples, spiral_curve(snakemake.params.toy), read_json(snakemake.input.floor),
                      spec["distances"], spec["batch_sizes"])
    write_outputs(snakemake.output, figure=fig, tables=cells)
