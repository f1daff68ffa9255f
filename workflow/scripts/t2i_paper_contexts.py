"""Qwen3 contexts of one prompt set (FLUX.2 [klein]'s text encoder, ctx_len tokens), as a bf16 table."""

from rdm_core.generators.flux2 import qwen3_contexts, write_contexts
from rdm_core.io import read_json
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    weights = resolve_t2i_weights("flux2_klein", p.weights_dir)
    prompts = read_json(snakemake.input.prompts)["prompts"]
    write_contexts(snakemake.output[0], qwen3_contexts(weights, p.ctx_len, device), prompts, p.batch,
                   {"rule": "t2i_paper_contexts", "set": snakemake.wildcards.pset, "ctx_len": p.ctx_len,
                    "weights": weights})
    log.info("%d contexts of %s", len(prompts), snakemake.wildcards.pset)
