"""Captioned compositions of the train digits (teacher, reference) and of the val digits (held-out scorers),
and the mini GenEval prompt set with the grid prompts."""

from rdm_core.data.compose import TASKS, make_compositions, prompt_set, save_compositions
from rdm_core.data.mnist import load_split
from rdm_core.io import write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    splits = (("train", p.data["train_per_task"], p.seed), ("val", p.data["val_per_task"], p.seed + 1))
    for split, per_task, seed in splits:
        images, labels = load_split(snakemake.input.data, split)
        comps = make_compositions(images, labels, per_task, seed)
        save_compositions(snakemake.output[split], comps, {"digits": split, "per_task": per_task, "seed": seed})
        log.info("%s: %d compositions, %d distinct captions", split, len(comps["captions"]),
                 len(set(comps["captions"])))
    prompts = prompt_set(p.geneval["prompts_per_task"], p.geneval["prompt_seed"])
    by_task = {t: [i for i, m in enumerate(prompts) if m["tag"] == t] for t in TASKS}
    grid = [by_task[TASKS[i % len(TASKS)]][i // len(TASKS)] for i in range(p.grid["prompts"])]
    write_json(snakemake.output.prompts, {"prompts": prompts, "grid": grid, "grid_seed": p.grid["seed"]})
    log.info("%d prompts: %s", len(prompts), {t: len(v) for t, v in by_task.items()})
