"""Prompt sets of the paper text-to-image stage that no recipe changes: the COCO train pairs (reference), the
bundled GenEval metadata (official file, checked by sha256), the two PickScore sets: random COCO-val captions
(one seed each) and the bundled Pick-a-Pic test prompts (one noise stream, the official protocol)."""

import random

from rdm_core.data.coco import coco_pairs, pairs_fingerprint
from rdm_core.eval.geneval import SHA256, load_prompts
from rdm_core.eval.pickscore import PICKAPIC_SHA256, load_pickapic
from rdm_core.io import write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    coco = p.coco
    pairs = coco_pairs(coco["root"], coco["train_split"], "t2i.paper.coco.root")
    write_json(out.reference, {"root": coco["root"], "sha256": pairs_fingerprint(pairs), "pairs": pairs,
                               "text_rows": list(range(len(pairs)))})  # the baseline's reference: the real pairs
    geneval = load_prompts(snakemake.input.geneval, "t2i.paper.geneval.prompts", sha256=SHA256)
    write_json(out.geneval, {"source": snakemake.input.geneval, "sha256": SHA256, "rows": geneval,
                             "prompts": [r["prompt"] for r in geneval]})
    val = coco_pairs(coco["root"], coco["val_split"], "t2i.paper.coco.root")
    n, seed = p.pickscore["cocoval"]["n_prompts"], p.pickscore["cocoval"]["seed"]
    if n > len(val):
        raise ValueError(f"t2i.paper.pickscore.cocoval.n_prompts = {n}, but {coco['val_split']} has only {len(val)} "
                         "captioned images")
    picked = sorted(random.Random(seed).sample(range(len(val)), n))
    write_json(out.cocoval, {"prompts": [val[i]["caption"] for i in picked],
                             "image_ids": [val[i]["image_id"] for i in picked],
                             "seeds": [seed * 1_000_000 + k for k in range(n)]})
    pickapic = load_pickapic(snakemake.input.pickapic, "t2i.paper.pickscore.pickapic.prompts")
    write_json(out.pickapic, {"source": snakemake.input.pickapic, "sha256": PICKAPIC_SHA256, "prompts": pickapic,
                              "stream_seed": p.pickscore["pickapic"]["seed"]})
    log.info("%d reference pairs, %d GenEval prompts, %d COCO-val and %d Pick-a-Pic PickScore prompts",
             len(pairs), len(geneval), n, len(pickapic))
