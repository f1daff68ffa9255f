"""PickScore head-to-heads on matched noise (same prompt, same seed): the joint student against the others."""

from rdm_core.eval.preference import head_to_heads
from rdm_core.io import load_tensors, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    models = snakemake.params.models
    scores = {m: load_tensors(path)[0]["scores"] for m, path in zip(models, snakemake.input.scores)}
    pairs = [("student_joint", m) for m in models if m != "student_joint"]
    records = head_to_heads(scores, pairs)
    write_json(snakemake.output[0], {"metric": "PickScore_v1", "pairs": records})
    log.info("%s", [(r["opponent"], round(r["win_rate"], 4)) for r in records])
