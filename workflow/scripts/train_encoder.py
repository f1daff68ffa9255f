"""Train one mini encoder of the battery on the train split (fixed random features are only seeded)."""

from rdm_core.data.mnist import load_split
from rdm_core.io import load_tensors
from rdm_core.representation.mini import save_encoder_weights, train_mini_encoder
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    name, seed = snakemake.wildcards.encoder, snakemake.params.seed
    images, labels = load_split(snakemake.input.data, "train")
    data_meta = load_tensors(snakemake.input.data)[1]
    state = train_mini_encoder(name, images, labels, seed, steps=snakemake.params.steps)
    sha = save_encoder_weights(snakemake.output[0], name, state,
                               {"data_sha256": data_meta["data_sha256"], "seed": seed})
    log.info("encoder %s trained on %d train digits, weights sha256 %s", name, len(images), sha)
