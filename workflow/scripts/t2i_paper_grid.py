"""Fig. 1 sample grid of one model: the first n PickScore prompts on their shared noise, uint8 images."""

import torch

from rdm_core.eval.pickscore import to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render
from rdm_core.io import read_json, save_tensors
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe,
                            snakemake.input.get("student"), device)
    sets = read_json(snakemake.input.prompts)
    images = render(generator, ContextTable(snakemake.input.ctx), list(range(p.n)), sets["seeds"][:p.n],
                    p.resolution, device)
    save_tensors(snakemake.output[0], {"images": torch.from_numpy(to_uint8(images))},
                 {"prompts": sets["prompts"][:p.n], "model": snakemake.wildcards.model, "nfe": p.nfe})
    log.info("grid of %d images", p.n)
