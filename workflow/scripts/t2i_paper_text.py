"""tau of the prompt pool: L2-normalised SigLIP2 text embeddings (open_clip ViT-SO400M-16-SigLIP2-256)."""

from rdm_core.io import read_json, save_tensors
from rdm_core.representation.text_paper import encode_prompts, load_text_tower, resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    weights = resolve_t2i_weights("siglip2_text", p.weights_dir)
    prompts = read_json(snakemake.input.prompts)["prompts"]
    tau = encode_prompts(load_text_tower(weights, device, p.precision), prompts, p.batch)
    save_tensors(snakemake.output[0], {"text": tau}, {"model": "siglip2_text", "weights": weights,
                                                      "count": len(prompts)})
    log.info("tau %s", tuple(tau.shape))
