"""The text table: all-MiniLM-L6-v2 embeddings of every distinct caption of the train set and the prompts."""

from rdm_core.data.compose import load_compositions
from rdm_core.io import read_json
from rdm_core.representation.text import TextTower, build_text_table, save_text_table
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    _, captions, _ = load_compositions(snakemake.input.train)
    prompts = [m["prompt"] for m in read_json(snakemake.input.prompts)["prompts"]]
    tower = TextTower()
    distinct, tau = build_text_table(captions + prompts, tower, snakemake.params.batch)
    save_text_table(snakemake.output[0], distinct, tau, {"rule": "t2i_text", "path": str(tower.path)})
    log.info("%d distinct captions, tau %s", len(distinct), tuple(tau.shape))
