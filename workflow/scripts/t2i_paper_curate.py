"""geALLcoco curation: the reference rows [GenEval-correct teacher renders, at most `cap` per prompt | the `keep`
COCO-caption renders of highest PickScore], each with its prompt's row in the pool's text table; read from every
shard of the render stages (in shard order), a kept render's file in the folder of its t2i_paper_teacher_kept shard."""

import json
from pathlib import Path

import torch

from rdm_core.data.coco import pairs_fingerprint
from rdm_core.eval.geneval import sample_path
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.reference.curation import geneval_kept, row_shards, top_seeds
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    p, inp = snakemake.params, snakemake.input
    root = Path(p.root)
    coco = read_json(inp.pairs)["pairs"]
    geneval = read_json(inp.geneval)["prompts"]
    records = [json.loads(line) for f in inp.results for line in Path(f).read_text().splitlines() if line.strip()]
    ge = geneval_kept(records, len(geneval), p.cap)
    folders = [Path(f).relative_to(root) for f in inp.images]  # shard k: its prompts' folders
    shard = row_shards(len(geneval), len(folders))
    pairs = [{"image_id": f"geneval{i}", "file": str(sample_path(folders[shard[i]], i, j)), "caption": geneval[i]}
             for i, j in ge]
    text_rows = [len(coco) + i for i, _ in ge]  # the pool's prompts: the COCO captions, then the GenEval prompts
    scores = torch.cat([load_tensors(f)[0]["scores"] for f in inp.scores])
    if len(scores) != len(coco):
        raise ValueError(f"{len(inp.scores)} COCO score shards hold {len(scores)} captions, the reference {len(coco)}")
    best = top_seeds(scores, p.keep).tolist()
    renders = [(i, s) for i, seeds in enumerate(best) for s in seeds]
    shard = row_shards(len(renders), p.kept_shards)
    pairs += [{"image_id": coco[i]["image_id"], "file": f"{p.coco_dir}/{k}/{i:08d}_s{s}.png",
               "caption": coco[i]["caption"]} for (i, s), k in zip(renders, shard)]
    text_rows += [i for i, _ in renders]
    write_json(snakemake.output[0], {"root": str(root), "sha256": pairs_fingerprint(pairs), "pairs": pairs,
                                     "text_rows": text_rows, "coco_renders": renders,
                                     "blocks": {"geneval": len(ge), "coco": len(renders)}})
    log.info("geALLcoco reference: %d GenEval-correct renders (of %d scored, at most %d per prompt) | %d COCO renders "
             "(top %d by PickScore of each caption): %d rows, GenEval share %.1f %%", len(ge), len(records), p.cap,
             len(renders), p.keep, len(pairs), 100 * len(ge) / max(len(pairs), 1))
