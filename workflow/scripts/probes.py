"""Score the metric's probes (fresh real, blurred real, uniform noise) with the whole battery."""

from rdm_core.data.sources import real_rows
from rdm_core.eval import load_battery, score_images
from rdm_core.eval.probes import probe_images
from rdm_core.io import write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    names, scale_dir, device = p.names, p.scale_dir, job_device(p.device)
    encoders, banks = load_battery(scale_dir, names, lambda n: load_battery_encoder(n, scale_dir, precision=p.precision))
    bank_idx = banks[names[0]].sw_train_idx
    if any(not banks[n].sw_train_idx.equal(bank_idx) for n in names):
        raise ValueError("the SW banks of the battery hold different train rows; rebuild the references")
    real = real_rows(snakemake.params.data, "train", snakemake.input.get("data"))
    scores = {}
    for probe, images in probe_images(real, bank_idx, banks[names[0]].n, snakemake.params.seed).items():
        scores[probe] = score_images(images, encoders, banks, device=device)
        log.info("%s: SW_r%d %.3f, MMDr%d %.3f", probe, scores[probe]["K"], scores[probe]["sw_rK"],
                 scores[probe]["K"], scores[probe]["mmd_rK"])
    write_json(snakemake.output[0], scores)
