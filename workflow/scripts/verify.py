"""VERIFY.md: every artifact's numbers beside the paper's, and every claim marked holds, fails or within noise."""

import yaml

from rdm_core.io import write_text
from rdm_core.report.verify import build_verify
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    numbers = yaml.safe_load(open(snakemake.input.numbers))
    artifacts = yaml.safe_load(open(snakemake.input.table))
    write_text(snakemake.output[0], build_verify(snakemake.params.results, numbers, artifacts, snakemake.params.scale,
                                                     snakemake.params.noise))
