"""The caption-conditional flow-matching teacher on the train compositions and their text embeddings."""

from rdm_core.data.compose import load_compositions
from rdm_core.generators.t2i import save_t2i
from rdm_core.io import write_json
from rdm_core.representation.text import TextTable
from rdm_core.runlog import rule_log
from rdm_core.train.t2i import train_teacher
from rdm_core.train.workdir import keyed_workdir

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, captions, _ = load_compositions(snakemake.input.train)
    tau = TextTable(snakemake.input.text)(captions)
    net = train_teacher(images, tau, p.cfg, keyed_workdir(p.workdir, p.cfg, snakemake.input), log=log.info)
    save_t2i(snakemake.output.weights, net, {"rule": "t2i_teacher", "config": p.cfg})
    write_json(snakemake.output.done, {"rule": "t2i_teacher", "steps": p.cfg["steps"], "config": p.cfg})
