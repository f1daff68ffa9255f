"""Train and score one toy cell (distance, batch)."""

from rdm_core.io import save_tensors, write_json
from rdm_core.runlog import rule_log
from rdm_core.toy import run_cell

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    distance, batch = snakemake.wildcards.distance, int(snakemake.wildcards.batch)
    log.info("toy cell %s at B=%d", distance, batch)
    metrics, samples = run_cell(snakemake.params.toy, distance, batch)
    log.info("recall %.3f medDist %.4f in %.1f s", metrics["recall"], metrics["med_dist"], metrics.pop("seconds"))
    save_tensors(snakemake.output.samples, {"samples": samples},
                 {"distance": distance, "batch": batch, "seed": metrics["seed"]})
    write_json(snakemake.output.metrics, metrics)
