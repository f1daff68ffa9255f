"""geALLcoco curation, COCO block: PickScore_v1 of `seeds` 4-step teacher renders of each reference caption of
shard `shard` of `shards` (the official render driver's noise, drawn on the job's device); the renders themselves
are not kept (the chosen ones are rendered again by t2i_paper_teacher_kept)."""

import torch

from rdm_core.eval.pickscore import load_pickscore, to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render
from rdm_core.io import read_json, save_tensors
from rdm_core.reference.curation import render_seed, shard_rows
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    scorer = load_pickscore(resolve_t2i_weights("pickscore", p.weights_dir),
                            resolve_t2i_weights("pickscore_processor", p.weights_dir), device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe, None, device)
    contexts = ContextTable(snakemake.input.ctx)  # the pool's prompts: its first rows are the reference captions
    captions = [q["caption"] for q in read_json(snakemake.input.pairs)["pairs"]]
    rows = shard_rows(len(captions), p.shards, p.shard)
    work = [(i, s) for i in rows for s in range(p.seeds)]
    scores = []
    for lo in range(0, len(work), p.batch):
        block = work[lo:lo + p.batch]
        images = render(generator, contexts, [i for i, _ in block], [render_seed(i, s) for i, s in block],
                        p.resolution, device, p.batch)
        scores.append(scorer.score(to_uint8(images), [captions[i] for i, _ in block]))
        log.info("COCO teacher renders scored: %d/%d", lo + len(block), len(work))
    scores = torch.cat(scores).reshape(len(rows), p.seeds)
    save_tensors(snakemake.output[0], {"scores": scores}, {"rule": "t2i_paper_teacher_coco", "nfe": p.nfe,
                                                           "seeds": p.seeds, "captions": len(captions),
                                                           "rows": [rows.start, rows.stop]})
