"""The frozen reference of one encoder: sigma, Nystrom bundle, floors, SW and RFF evaluation banks."""

from pathlib import Path

from rdm_core.io import load_tensors
from rdm_core.reference.build import build_reference, floors, reference_metadata, save_reference
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    cfg = snakemake.params.reference
    (train, train_meta), (val, val_meta) = (load_tensors(snakemake.input[s]) for s in ("train", "val"))
    ref = build_reference(train["features"], val["features"], cfg, seed=cfg["seed"],
                          device=job_device(snakemake.params.device))
    save_reference(Path(snakemake.output[0]).parent, ref, reference_metadata(train_meta, val_meta, cfg, cfg["seed"]))
    log.info("%s floors %s", snakemake.wildcards.encoder, floors(ref))
