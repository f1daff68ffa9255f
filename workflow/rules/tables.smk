# Tables: assembled from stage metrics; nothing here trains or evaluates.


rule table4:
    input:
        cells=toy_cells(config["toy"]["fig3"]["distances"], [config["toy"]["table4"]["batch_size"]]),
    output:
        artifact_report_outputs("table4"),
    log:
        f"{WORK}/logs/table4.log",
    conda:
        ENV
    script:
        "../scripts/table4.py"


rule table5:
    input:
        probes=rules.probes.output[0],
        floors=expand(REFERENCE_FLOORS, encoder=config["battery"]["names"]),
    output:
        artifact_report_outputs("table5"),
    params:
        names=config["battery"]["names"],
    log:
        f"{WORK}/logs/table5.log",
    conda:
        ENV
    script:
        "../scripts/table5.py"


# The mini class-conditional stage (scales listed in config/artifacts.yaml).


rule table1:
    input:
        evals=classcond_eval(CC_TABLE1),
    output:
        artifact_report_outputs("table1"),
    params:
        report=CC_REPORT,
        gens=CC_TABLE1,
    log:
        f"{WORK}/logs/table1.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule table7:
    input:
        evals=classcond_eval(CC_TABLE1),
    output:
        artifact_report_outputs("table7"),
    params:
        report=CC_REPORT,
        gens=CC_TABLE1,
    log:
        f"{WORK}/logs/table7.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule table3:
    input:
        evals=classcond_eval(CC_TABLE3.values()),
    output:
        artifact_report_outputs("table3"),
    params:
        report=CC_REPORT,
        gens=list(CC_TABLE3.values()),
        arms=CC_TABLE3,
        settings={arm: CC["arms"][arm] for arm in CC_TABLE3.values()},
    log:
        f"{WORK}/logs/table3.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule table6:
    input:
        evals=classcond_eval(CC_BATCH),
        done=[f"{CC_DIR}/weights/{arm}.done.json" for arm in CC_BATCH],  # the steps each arm ran
    output:
        artifact_report_outputs("table6"),
    params:
        report=CC_REPORT,
        gens=CC_BATCH,
        sweep=[{"arm": arm, "N": IRDM_ARMS[arm]["rollout"], "lr": IRDM_ARMS[arm]["lr"],
                "budget": sweep_budget(CC["batch_sweep"])} for arm in CC_BATCH],
        encoder=CC["batch_sweep"]["encoder"],
    log:
        f"{WORK}/logs/table6.log",
    conda:
        ENV
    script:
        "../scripts/cc_report.py"


rule table2:
    """Table 2: GenEval (overall and per task) and PickScore of the teacher at 4 and 1 steps and both students,
    below the real val compositions (scorers' ceiling; mini scale)."""
    input:
        metrics=expand(f"{RES}/metrics/t2i/{{model}}.json", model=T2I_MODELS)
        + ([f"{RES}/metrics/t2i/real_val.json"] if SCALE != "paper" else []),
    output:
        artifact_report_outputs("table2"),
    log:
        f"{WORK}/logs/table2.log",
    conda:
        ENV
    script:
        "../scripts/t2i_table2.py"
