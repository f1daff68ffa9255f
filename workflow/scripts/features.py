"""Real train and val features of one encoder, self-describing and never silently reused."""

from rdm_core.data.sources import real_split
from rdm_core.reference.cache import cached_features, feature_metadata, load_battery_encoder
from rdm_core.representation.features import extract_features
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    name, p = snakemake.wildcards.encoder, snakemake.params
    device = job_device(p.device)
    encoder, weights_sha = load_battery_encoder(name, p.scale_dir, p.weights_dir, p.precision)
    encoder.to(device)
    for split in ("train", "val"):
        real = real_split(p.data, split, snakemake.input.get("data"))
        meta = feature_metadata(encoder.spec, weights_sha, real.fingerprint, real.count, p.data["seed"],
                                real.preprocessing)
        compute = lambda: extract_features(encoder, real.batches(p.batch), p.batch, device)  # noqa: E731
        feats = cached_features(snakemake.output[split], compute, meta)
        log.info("%s %s features %s", name, split, tuple(feats.shape))
