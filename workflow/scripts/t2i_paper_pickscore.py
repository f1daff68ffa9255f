"""PickScore_v1 of one model on each prompt set, the same noise for every model: per-prompt seeds (COCO-val) or
one stream seeded ``stream_seed`` (Pick-a-Pic, the official protocol), drawn on the job's device. The scorer and
the generator load once for all the sets. The first ``grid_n`` COCO-val renders are the model's Fig. 1 grid."""

import numpy as np
import torch

from rdm_core.eval.pickscore import load_pickscore, mean_score, to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render, stream_noise
from rdm_core.io import read_json, save_tensors
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, model = snakemake.params, snakemake.wildcards.model
    device = job_device(p.device)
    scorer = load_pickscore(resolve_t2i_weights("pickscore", p.weights_dir),
                            resolve_t2i_weights("pickscore_processor", p.weights_dir), device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe,
                            snakemake.input.get("student"), device)
    if device == "cpu":
        log.warning("noise drawn on the CPU (no CUDA): the official protocol draws it on the GPU, other images")
    for name, prompt_file, ctx_file, out in zip(p.sets, snakemake.input.prompts, snakemake.input.ctx,
                                                snakemake.output.scores):
        contexts, sets = ContextTable(ctx_file), read_json(prompt_file)
        prompts = sets["prompts"]
        if name == "cocoval" and len(prompts) < p.grid_n:
            raise ValueError(f"t2i.paper.grid.n = {p.grid_n}, but only {len(prompts)} COCO-val PickScore prompts "
                             "(t2i.paper.pickscore.cocoval.n_prompts)")
        if "seeds" in sets:
            noise = sets["seeds"]
        else:
            noise = stream_noise(len(prompts), generator.noise_shape(p.resolution, p.resolution), sets["stream_seed"],
                                 device)
        scores, grid = [], []
        for s in range(0, len(prompts), p.batch):
            idx = list(range(s, min(s + p.batch, len(prompts))))
            images = to_uint8(render(generator, contexts, idx, noise[s:s + p.batch], p.resolution, device, p.batch))
            scores.append(scorer.score(images, prompts[s:s + p.batch]))
            if name == "cocoval" and s < p.grid_n:
                grid.append(images[:p.grid_n - s])
            log.info("PickScore %s: %d/%d", name, idx[-1] + 1, len(prompts))
        scores = torch.cat(scores)
        summary = mean_score(scores)
        save_tensors(out, {"scores": scores}, {"model": model, "prompts": name, "nfe": p.nfe, **summary})
        log.info("PickScore %s on %s: %.4f", model, name, summary["pickscore"])
        if name == "cocoval":
            save_tensors(snakemake.output.grid, {"images": torch.from_numpy(np.concatenate(grid))},
                         {"prompts": prompts[:p.grid_n], "model": model, "nfe": p.nfe})
