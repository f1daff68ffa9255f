"""Score a fresh draw of real spiral points: the floor every toy cell is read against."""

from rdm_core.io import write_json
from rdm_core.runlog import rule_log
from rdm_core.toy import real_floor

with rule_log(snakemake.log[0]):
    write_json(snakemake.output[0], real_floor(snakemake.params.toy))
