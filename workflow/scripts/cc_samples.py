"""1,000 samples of one generator (or the real val digits) with uniform labels and a fixed seed."""

from rdm_core.data.mnist import load_split
from rdm_core.generators.io import generate_samples, load_generator, real_samples
from rdm_core.io import save_tensors
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    if snakemake.wildcards.gen == "real":
        images, labels = load_split(snakemake.input.data, "val")
        images, labels = real_samples(images, labels, p.n, p.n_classes)
        meta = {"generator": "real", "split": "val"}
    else:
        model, meta = load_generator(snakemake.input.weights[0])
        images, labels = generate_samples(model, p.n, p.seed, p.nfe)
        meta = {"generator": snakemake.wildcards.gen, "nfe": p.nfe, "made_by": meta["made_by"]}
    save_tensors(snakemake.output[0], {"images": images, "labels": labels}, {**meta, "seed": p.seed, "n": p.n})
    log.info("%s: %d samples", snakemake.wildcards.gen, len(labels))
