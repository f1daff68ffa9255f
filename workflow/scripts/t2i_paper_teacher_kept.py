"""geALLcoco curation: the kept COCO-caption teacher renders of shard `shard` of `shards` (the same noise as the
scored ones), one PNG each; files already there are kept (a killed job resumes)."""

import os

from PIL import Image

from rdm_core.eval.pickscore import to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render
from rdm_core.io import atomic_path, read_json
from rdm_core.reference.curation import render_seed, shard_rows
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, out = snakemake.params, snakemake.output[0]
    device = job_device(p.device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe, None, device)
    contexts = ContextTable(snakemake.input.ctx)
    os.makedirs(out, exist_ok=True)
    renders = read_json(snakemake.input.reference)["coco_renders"]
    todo = [(i, s) for i, s in (renders[r] for r in shard_rows(len(renders), p.shards, p.shard))
            if not os.path.isfile(f"{out}/{i:08d}_s{s}.png")]
    for lo in range(0, len(todo), p.batch):
        block = todo[lo:lo + p.batch]
        images = to_uint8(render(generator, contexts, [i for i, _ in block], [render_seed(i, s) for i, s in block],
                                 p.resolution, device, p.batch))
        for (i, s), image in zip(block, images):
            with atomic_path(f"{out}/{i:08d}_s{s}.png") as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
        log.info("kept COCO teacher renders: %d/%d", lo + len(block), len(todo))
