"""The RGB encoders of phi: each trained on the train compositions (or only seeded, if fixed)."""

from rdm_core.data.compose import load_compositions
from rdm_core.io import save_tensors
from rdm_core.representation.t2i import train_rgb_encoder
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, _, _ = load_compositions(snakemake.input.train)
    tensors = {}
    for name in p.names:
        state = train_rgb_encoder(name, images, p.seed, p.train["steps"], p.train["batch"], p.train["lr"])
        tensors.update({f"{name}.{k}": v for k, v in state.items()})
        log.info("%s: %d tensors", name, len(state))
    save_tensors(snakemake.output[0], tensors, {"encoders": p.names, "train": p.train, "seed": p.seed})
