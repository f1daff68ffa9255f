"""Real train and val features of one encoder, self-describing and never silently reused."""

from rdm_core.data.mnist import load_split
from rdm_core.io import load_tensors
from rdm_core.reference.cache import cached_features, feature_metadata, load_battery_encoder
from rdm_core.representation.features import extract_features
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    name = snakemake.wildcards.encoder
    scale_dir = snakemake.output.train.split("/features/")[0]
    encoder, weights_sha = load_battery_encoder(name, scale_dir)
    data_sha = load_tensors(snakemake.input.data)[1]["data_sha256"]
    for split in ("train", "val"):
        images, _ = load_split(snakemake.input.data, split)
        meta = feature_metadata(encoder.spec, weights_sha, data_sha, len(images), snakemake.params.seed,
                                "mnist uint8 / 255, 1x28x28")
        feats = cached_features(snakemake.output[split], lambda: extract_features(encoder, images), meta)
        log.info("%s %s features %s", name, split, tuple(feats.shape))
