"""The real val digits arranged like 1,000 generated samples (uniform labels); a trained generator's samples are
written by its own training job (rdm_core.generators.io.write_samples)."""

from rdm_core.data.mnist import load_split
from rdm_core.generators.io import real_samples
from rdm_core.io import save_tensors
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, labels = load_split(snakemake.input.data, "val")
    images, labels = real_samples(images, labels, p.n, p.n_classes)
    save_tensors(snakemake.output[0], {"images": images, "labels": labels},
                 {"generator": "real", "split": "val", "seed": p.seed, "n": p.n})
    log.info("real: %d samples", len(labels))
