"""The multi-step baseline: a class-conditional flow-matching model on the train split, and its samples at every NFE."""

from rdm_core.data.mnist import load_split
from rdm_core.generators.io import save_generator, write_samples
from rdm_core.io import write_json
from rdm_core.runlog import rule_log
from rdm_core.train.flow import train_flow
from rdm_core.train.workdir import keyed_workdir

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, labels = load_split(snakemake.input.data, "train")
    model = train_flow(images, labels, p.cfg, keyed_workdir(p.workdir, p.cfg, snakemake.input), log=log.info)
    save_generator(snakemake.output.weights, model, {"rule": "flow", "config": p.cfg})
    for nfe, path in zip(p.sampling["nfe"], snakemake.output.samples):
        write_samples(path, snakemake.output.weights, f"flow_nfe{nfe}", p.sampling["n"], p.sampling["seed"], nfe)
    log.info("samples at NFE %s", p.sampling["nfe"])
    write_json(snakemake.output.done, {"rule": "flow", "steps": p.cfg["steps"], "config": p.cfg})
