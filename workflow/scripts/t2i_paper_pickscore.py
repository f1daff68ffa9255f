"""PickScore_v1 of one model on the COCO-val prompts, one seed per prompt (the same noise for every model)."""

import torch

from rdm_core.eval.pickscore import load_pickscore, mean_score, to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render
from rdm_core.io import read_json, save_tensors
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = p.device if torch.cuda.is_available() else "cpu"
    scorer = load_pickscore(resolve_t2i_weights("pickscore", p.weights_dir),
                            resolve_t2i_weights("pickscore_processor", p.weights_dir), device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe,
                            snakemake.input.get("student"), device)
    contexts = ContextTable(snakemake.input.ctx)
    sets = read_json(snakemake.input.prompts)
    prompts, seeds = sets["prompts"], sets["seeds"]
    scores = []
    for s in range(0, len(prompts), p.batch):
        idx = list(range(s, min(s + p.batch, len(prompts))))
        images = render(generator, contexts, idx, seeds[s:s + p.batch], p.resolution, device, p.batch)
        scores.append(scorer.score(to_uint8(images), prompts[s:s + p.batch]))
        log.info("PickScore: %d/%d", idx[-1] + 1, len(prompts))
    scores = torch.cat(scores)
    summary = mean_score(scores)
    save_tensors(snakemake.output[0], {"scores": scores}, {"model": snakemake.wildcards.model, "nfe": p.nfe, **summary})
    log.info("PickScore %s: %.4f", snakemake.wildcards.model, summary["pickscore"])
