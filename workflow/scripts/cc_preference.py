"""Matched-pair preference win rates from the held-out classifier's log-probability of the requested class."""

from rdm_core.eval.classify import class_logprob
from rdm_core.eval.preference import head_to_heads
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    flows = {f.split("/")[-1].removesuffix(".json"): read_json(f)["sw_rK"] for f in snakemake.input.flow_evals}
    flow_best = min(flows, key=flows.get)
    resolve = {"flow_best": flow_best}
    opponents = [resolve.get(o, o) for o in p.opponents]
    classifier = load_battery_encoder(p.classifier, p.scale_dir)[0]
    scores, labels = {}, None
    for path in snakemake.input.samples:
        gen = path.split("/")[-1].removesuffix(".safetensors")
        if gen not in (p.player, *opponents):
            continue
        t, _ = load_tensors(path)
        if labels is not None and not t["labels"].equal(labels):
            raise ValueError(f"{path}: labels differ from the other sample sets; pairs would not be matched")
        labels = t["labels"]
        scores[gen] = class_logprob(classifier, t["images"], t["labels"], p.batch)
    records = head_to_heads(scores, [(p.player, o) for o in opponents])
    for r in records:
        log.info("%s vs %s: %.3f", r["player"], r["opponent"], r["win_rate"])
    write_json(snakemake.output[0], {"scorer": f"{p.classifier} log p(requested class)", "flow_best": flow_best,
                                     "records": records})
