"""Table 5: the battery, its reference floors, and the SW probes."""

from rdm_core.io import read_json
from rdm_core.report.artifacts import write_outputs
from rdm_core.report.battery import battery_table
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    names = snakemake.params.names
    floors = {name: read_json(path) for name, path in zip(names, snakemake.input.floors)}
    write_outputs(snakemake.output, tables=battery_table(names, floors, read_json(snakemake.input.probes)),
                  floatfmt=".4g")
