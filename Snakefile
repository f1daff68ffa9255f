"""iRDM reproduction pipeline: every table and figure of the paper, from scratch.

    snakemake --cores all                     # = reproduce_all, mini scale (config/config.yaml)
    snakemake --cores all fig3                # one artifact
    snakemake -n --configfile config/paper.yaml reproduce_all
"""

from snakemake.utils import min_version

min_version("9.0")


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


include: "workflow/rules/t2i.smk"


if config["scale"] == "paper":

    include: "workflow/rules/t2i_paper.smk"


include: "workflow/rules/evaluate.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/report.smk"
