"""MANIFEST.tsv: each file with its sha256, producing rule, config hash and the code commit of the run."""

from rdm_core.io import write_text
from rdm_core.report.manifest import git_commit, manifest_table
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]):
    table = manifest_table(snakemake.params.results, snakemake.params.entries, git_commit())
    write_text(snakemake.output[0], table.to_csv(sep="\t", index=False, lineterminator="\n"))
