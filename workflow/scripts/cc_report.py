"""Tables and figures of the class-conditional stage; which one is the rule's name (builders in
rdm_core.report.classcond)."""

from rdm_core.data.npz import iter_npz_batches
from rdm_core.io import load_tensors, read_json
from rdm_core.report import classcond as cc
from rdm_core.report.artifacts import write_outputs
from rdm_core.representation.spec import get_spec
from rdm_core.runlog import rule_log


def evals():
    return {g: read_json(f) for g, f in zip(snakemake.params.gens, snakemake.input.evals)}


def samples(gen):
    """(images [N, C, H, W], labels) of one generator: the stage's safetensors, or the first samples of classes
    0-9 from an .npz batch (paper scale)."""
    path = next(f for f in snakemake.input.samples if f.rsplit("/", 1)[-1].rsplit(".", 1)[0] == gen)
    if path.endswith(".npz"):
        return cc.first_of_classes(iter_npz_batches(path, 1024))
    t, _ = load_tensors(path)
    return t["images"].numpy(), t["labels"].numpy()


with rule_log(snakemake.log[0]):
    rep, rule, out = snakemake.params.report, snakemake.rule, snakemake.output
    order, enc = rep["names"], rep["arm_encoders"]
    heldout = [n for n in order if get_spec(n).split == "heldout"]
    if rule in ("table1", "table7"):
        df = cc.ratio_table(evals(), snakemake.params.gens, order, heldout, "sw" if rule == "table1" else "mmd", enc)
        write_outputs(out, tables=df)
    elif rule == "table3":
        arms = snakemake.params.arms
        df = cc.table3(evals(), {"PID-gated": arms["gated"], "uniform": arms["uniform"]}, order, heldout,
                       rep["train_encoders"])
        write_outputs(out, tables=df)
    elif rule == "table6":
        done = snakemake.input.done
        sweep = [{**s, "steps": read_json(d)["steps"]} for s, d in zip(snakemake.params.sweep, done)]
        write_outputs(out, tables=cc.table6(evals(), sweep, snakemake.params.encoder, order, heldout))
    elif rule == "fig5":
        gens = snakemake.params.gens
        df = cc.gaming_table(evals(), gens, enc["gaming"], order, heldout, enc)
        sets = {cc.display_name(g, enc): samples(g) for g in ("irdm", "gaming")}
        write_outputs(out, figure=cc.fig5_figure(df, order, heldout, enc["gaming"], sets), tables=df)
    elif rule == "fig6":
        prefs = cc.preference_table(read_json(snakemake.input.preference)["records"], enc)
        write_outputs(out, figure=cc.fig6_figure(prefs), tables=prefs)
    elif rule == "fig_samples":
        for name, gens in snakemake.params.figures.items():
            sets = {cc.display_name(g, enc): samples(g) for g in gens}
            write_outputs([p for p in out if f"/samples_{name}." in p], figure=cc.samples_figure(sets))
    else:
        raise ValueError(f"cc_report.py does not build '{rule}'")
