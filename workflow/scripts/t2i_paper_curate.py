"""geALLcoco curation: the reference rows [GenEval-correct teacher renders, at most `cap` per prompt | the `keep`
COCO-caption renders of highest PickScore], each with its prompt's row in the pool's text table."""

import json
from pathlib import Path

from rdm_core.data.coco import pairs_fingerprint
from rdm_core.eval.geneval import sample_path
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.reference.curation import geneval_kept, top_seeds
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    p, inp = snakemake.params, snakemake.input
    root = Path(p.root)
    coco = read_json(inp.pairs)["pairs"]
    geneval = read_json(inp.geneval)["prompts"]
    records = [json.loads(line) for line in Path(inp.results).read_text().splitlines() if line.strip()]
    ge = geneval_kept(records, len(geneval), p.cap)
    images = Path(inp.images).relative_to(root)
    pairs = [{"image_id": f"geneval{i}", "file": str(sample_path(images, i, j)), "caption": geneval[i]} for i, j in ge]
    text_rows = [len(coco) + i for i, _ in ge]  # the pool's prompts: the COCO captions, then the GenEval prompts
    best = top_seeds(load_tensors(inp.scores)[0]["scores"], p.keep).tolist()
    renders = [(i, s) for i, seeds in enumerate(best) for s in seeds]
    pairs += [{"image_id": coco[i]["image_id"], "file": f"{p.coco_dir}/{i:08d}_s{s}.png", "caption": coco[i]["caption"]}
              for i, s in renders]
    text_rows += [i for i, _ in renders]
    write_json(snakemake.output[0], {"root": str(root), "sha256": pairs_fingerprint(pairs), "pairs": pairs,
                                     "text_rows": text_rows, "coco_renders": renders,
                                     "blocks": {"geneval": len(ge), "coco": len(renders)}})
    log.info("geALLcoco reference: %d GenEval-correct renders (of %d scored, at most %d per prompt) | %d COCO renders "
             "(top %d by PickScore of each caption): %d rows, GenEval share %.1f %%", len(ge), len(records), p.cap,
             len(renders), p.keep, len(pairs), 100 * len(ge) / max(len(pairs), 1))
