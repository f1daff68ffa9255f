"""results/README.md: every file a reviewer meets under results/<scale>/, from the artifact table."""

import yaml

from rdm_core.io import write_text
from rdm_core.report.manifest import results_readme
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    write_text(snakemake.output[0], results_readme(yaml.safe_load(open(snakemake.input.table))))
