"""The held-out scorers of the mini text-to-image stage (rule t2i_geneval_scorer: the cell classifier on val
digits; rule t2i_pickscore_model: the tiny CLIP on val-digit compositions). No objective uses either."""

from rdm_core.data.compose import load_compositions
from rdm_core.data.mnist import load_split
from rdm_core.eval.mini_geneval import save_cell_classifier, train_cell_classifier
from rdm_core.eval.mini_pickscore import save_tiny_clip, train_tiny_clip
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    cfg, seed = snakemake.params.cfg, snakemake.params.seed
    made_by = {"rule": snakemake.rule, "config": cfg, "seed": seed}
    if snakemake.rule == "t2i_geneval_scorer":
        images, labels = load_split(snakemake.input.data, "val")
        model = train_cell_classifier(images, labels, cfg["steps"], cfg["batch"], cfg["lr"], seed, cfg["averaged"],
                                      tuple(cfg["average_of"]))
        save_cell_classifier(snakemake.output[0], model, made_by)
    elif snakemake.rule == "t2i_pickscore_model":
        images, captions, _ = load_compositions(snakemake.input.val)
        model = train_tiny_clip(images, captions, cfg["steps"], cfg["batch"], cfg["lr"], seed, cfg["dim"], cfg["blur"])
        save_tiny_clip(snakemake.output[0], model, made_by)
    else:
        raise ValueError(f"t2i_scorers.py does not build '{snakemake.rule}'")
    log.info("%s trained", snakemake.rule)
