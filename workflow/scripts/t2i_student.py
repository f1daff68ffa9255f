"""The one-step student: the teacher's net as a 1-step Euler map, post-trained by iRDM on the joint (or marginal)
law over the t2i encoders; snapshots along the way for Fig. 1."""

import shutil

from rdm_core.data.compose import load_compositions
from rdm_core.generators.t2i import load_t2i, save_t2i
from rdm_core.io import atomic_path, write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.reference.joint_io import load_joint_reference
from rdm_core.representation.t2i import load_t2i_encoders
from rdm_core.representation.text import TextTable
from rdm_core.runlog import rule_log
from rdm_core.train.t2i import train_student
from rdm_core.train.workdir import keyed_workdir

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, law = snakemake.params, snakemake.wildcards.law
    teacher, _ = load_t2i(snakemake.input.teacher)
    _, captions, _ = load_compositions(snakemake.input.train)
    pool = TextTable(snakemake.input.text)(captions)  # the prompt pool: the train captions, uniformly
    ref = load_joint_reference(snakemake.input.reference, p.names)
    encoders = load_t2i_encoders(p.names, snakemake.input.encoders, lambda n: load_battery_encoder(n, p.scale_dir)[0])
    made_by = {"rule": "t2i_student", "law": law, "config": p.cfg}
    workdir = keyed_workdir(p.workdir, {**p.cfg, "law": law}, snakemake.input)
    net, snapshots = train_student(teacher, encoders, ref["bundles"], ref["beta"], pool, p.cfg, workdir, made_by,
                                   log=log.info)
    for out, (step, path) in zip(snakemake.output.get("snapshots", []), sorted(snapshots.items())):  # none: replicate
        with atomic_path(out) as tmp:  # a kill mid-copy leaves no half-written snapshot
            shutil.copyfile(path, tmp)
    save_t2i(snakemake.output.weights, net, made_by)
    write_json(snakemake.output.done, {**made_by, "steps": p.cfg["steps"], "snapshots": sorted(snapshots)})
