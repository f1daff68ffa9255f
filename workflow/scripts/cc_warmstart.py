"""Warm start: the one-step generator trained from scratch by the class-aware Frechet objective, and its samples."""

from rdm_core.data.mnist import load_split
from rdm_core.generators.io import save_generator, write_samples
from rdm_core.io import write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.runlog import rule_log
from rdm_core.train.workdir import keyed_workdir
from rdm_core.train.experiment import train_warmstart

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, labels = load_split(snakemake.input.data, "train")
    encoders = {n: load_battery_encoder(n, p.scale_dir)[0] for n in p.cfg["encoders"]}
    workdir = keyed_workdir(p.workdir, p.cfg, snakemake.input)
    model = train_warmstart(images, labels, encoders, p.cfg, workdir, log=log.info)
    save_generator(snakemake.output.weights, model, {"rule": "warmstart", "config": p.cfg})
    write_samples(snakemake.output.samples, snakemake.output.weights, "warmstart", p.sampling["n"], p.sampling["seed"])
    write_json(snakemake.output.done, {"rule": "warmstart", "steps": p.cfg["steps"], "config": p.cfg})
