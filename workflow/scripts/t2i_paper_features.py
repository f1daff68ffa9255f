"""Image features of one battery encoder over the reference images (the real COCO images of the baseline, the
curated teacher renders of geALLcoco), ADM centre crop to the output size."""

from torch.utils.data import DataLoader

from rdm_core.data.coco import CocoImages
from rdm_core.io import read_json
from rdm_core.reference.cache import cached_features, feature_metadata, load_battery_encoder
from rdm_core.representation.features import extract_features
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, name = snakemake.params, snakemake.wildcards.encoder
    device = job_device(p.device)
    ref = read_json(snakemake.input.pairs)
    encoder, weights_sha = load_battery_encoder(name, p.scale_dir, p.weights_dir, p.precision)
    encoder.to(device)
    images = CocoImages(ref["root"], ref["pairs"], p.resolution)
    batches = (x.float() / 255 for x in DataLoader(images, batch_size=p.batch, num_workers=p.workers))
    meta = feature_metadata(encoder.spec, weights_sha, ref["sha256"], len(images), 0,
                            f"{p.source} adm_center_crop {p.resolution}")
    feats = cached_features(snakemake.output[0], lambda: extract_features(encoder, batches, p.batch, device), meta)
    log.info("%s features of the %s reference %s", name, p.source, tuple(feats.shape))
