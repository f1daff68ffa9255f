"""One iRDM arm: post-train the warm start against joint bundles (PID-gated or uniform, any encoder subset); its samples."""

from rdm_core.generators.io import load_generator, save_generator, write_samples
from rdm_core.io import write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.reference.joint_io import load_joint_reference
from rdm_core.runlog import rule_log
from rdm_core.train.checkpoint import Checkpointer
from rdm_core.train.workdir import keyed_workdir
from rdm_core.train.experiment import train_irdm

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    generator, _ = load_generator(snakemake.input.warmstart, "onestep")
    generator.train()
    joint = load_joint_reference(snakemake.input.joint, p.cfg["encoders"])
    encoders = {n: load_battery_encoder(n, p.scale_dir)[0] for n in p.cfg["encoders"]}
    workdir = keyed_workdir(p.workdir, p.cfg, snakemake.input)
    model = train_irdm(generator, encoders, joint["bundles"], joint["floors"] if p.cfg["pid"] else None, p.cfg,
                       workdir, log=log.info)
    made_by = {"rule": snakemake.rule, "arm": snakemake.wildcards.arm, "config": p.cfg}
    save_generator(snakemake.output.weights, model, made_by)
    write_samples(snakemake.output.samples, snakemake.output.weights, p.sampling["generator"], p.sampling["n"],
                  p.sampling["seed"])
    write_json(snakemake.output.done, {**made_by, "steps": Checkpointer(workdir, 1).steps()[-1]})
