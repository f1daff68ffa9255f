# Figures: plotting only; the expensive steps live in the stage rules they read.


rule fig3:
    input:
        cells=toy_cells(config["toy"]["fig3"]["distances"], config["toy"]["fig3"]["batch_sizes"]),
        samples=toy_cells(config["toy"]["fig3"]["distances"], config["toy"]["fig3"]["batch_sizes"], "samples"),
        floor=rules.toy_floor.output[0],
    output:
        artifact_report_outputs("fig3"),
    params:
        toy={"data": config["toy"]["data"], "fig3": config["toy"]["fig3"]},
    log:
        f"{WORK}/logs/fig3.log",
    conda:
        ENV
    script:
        "../scripts/fig3.py"


rule fig4:
    """Both batch axes: the toy panel and, where the class-conditional stage runs, the Table 6 sweep."""
    input:
        cells=toy_cells([config["toy"]["fig4"]["distance"]], config["toy"]["fig4"]["batch_sizes"]),
        floor=rules.toy_floor.output[0],
        sweep=[f"{RES}/tables/table6_batch.csv"] if CLASSCOND else [],
    output:
        artifact_report_outputs("fig4"),
    params:
        encoder=CC["batch_sweep"]["encoder"],
    log:
        f"{WORK}/logs/fig4.log",
    conda:
        ENV
    script:
        "../scripts/fig4.py"


rule fig5:
    """Gaming: single-encoder matching against the gaming arm's encoder, beside iRDM and the warm start."""
    input:
        evals=classcond_eval(["warmstart", "irdm", "gaming"]),
        samples=expand(rules.samples.output[0], gen=["irdm", "gaming"]),
    output:
        artifact_report_outputs("fig5"),
    params:
        report=CC_REPORT,
        gens=["warmstart", "irdm", "gaming"],
    log:
        f"{WORK}/logs/fig5.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule fig6:
    input:
        preference=rules.preference.output[0],
    output:
        artifact_report_outputs("fig6"),
    params:
        report=CC_REPORT,
    log:
        f"{WORK}/logs/fig6.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


CC_SAMPLE_FIGS = {"warmstart": ["warmstart"], "flow": FLOW_GENS, "irdm": ["irdm"], "uniform": ["uniform"],
                  "single": [config["classcond"]["table1"]["single"]], "gaming": ["gaming"], "batch": CC_BATCH}


rule fig_samples:
    """A sample grid per trained generator (the flow at every NFE, the batch arms at every N)."""
    input:
        samples=expand(rules.samples.output[0], gen=dict.fromkeys(g for gs in CC_SAMPLE_FIGS.values() for g in gs)),
    output:
        artifact_report_outputs("fig_samples"),
    params:
        report=CC_REPORT,
        figures=CC_SAMPLE_FIGS,
    log:
        f"{WORK}/logs/fig_samples.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule fig1:
    """Fig. 1: teacher and student samples on the same prompts and noise; the student's curve over compute."""
    input:
        curve=f"{RES}/metrics/t2i/curve.json",
        grids=expand(f"{WORK}/t2i/grids/{{model}}.safetensors", model=["teacher_nfe4", "student_joint"]),
    output:
        artifact_report_outputs("fig1"),
    log:
        f"{WORK}/logs/fig1.log",
    conda:
        ENV
    script:
        "../scripts/t2i_fig1.py"
