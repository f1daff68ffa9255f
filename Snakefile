"""iRDM reproduction pipeline: every table and figure of the paper, from scratch.

    snakemake --cores all                     # = reproduce_all, mini scale (config/config.yaml)
    snakemake --cores all fig3                # one artifact
    snakemake -n --configfile config/paper.yaml reproduce_all
"""

import os

from snakemake.utils import min_version

min_version("9.0")

# Jobs inherit these (unless already set): glibc keeps freed blocks up to 32 MB on its heap instead of unmapping
# them, so a training step's activations stop page-faulting in every step (measured on a mini irdm_arm job:
# system time 1.7-2.5 s -> 0.6 s, wall -13 to -24%). No result depends on them.
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(32 * 1024 * 1024))
os.environ.setdefault("MALLOC_TRIM_THRESHOLD_", str(256 * 1024 * 1024))


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


rule reproduce_all:
    """Every artifact of the artifact table, the VERIFY page and the MANIFEST."""
    input:
        ALL_ARTIFACT_FILES,
        f"{RES}/VERIFY.md",
        f"{RES}/MANIFEST.tsv",  # with the compute table and results/README.md
    default_target: True


include: "workflow/rules/data.smk"
include: "workflow/rules/encoders.smk"
include: "workflow/rules/reference.smk"
if CC_PAPER:  # the class-conditional stage: pMF-H on ImageNet, or the mini generators

    include: "workflow/rules/train_paper.smk"

else:

    include: "workflow/rules/train.smk"


if config["scale"] == "paper":  # the text-to-image stage: FLUX.2 [klein], or the mini compositions

    include: "workflow/rules/t2i_paper.smk"

else:

    include: "workflow/rules/t2i.smk"


include: "workflow/rules/evaluate.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/report.smk"
