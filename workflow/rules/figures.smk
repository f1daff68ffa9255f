# Figures: plotting only; the expensive steps live in the stage rules they read.


rule fig3:
    input:
        cells=toy_cells(config["toy"]["fig3"]["distances"], config["toy"]["fig3"]["batch_sizes"]),
        samples=toy_cells(config["toy"]["fig3"]["distances"], config["toy"]["fig3"]["batch_sizes"], "samples"),
        floor=rules.toy_floor.output[0],
    output:
        artifact_outputs("fig3"),
    params:
        toy={"data": config["toy"]["data"], "fig3": config["toy"]["fig3"]},
    log:
        f"{WORK}/logs/fig3.log",
    conda:
        ENV
    script:
        "../scripts/fig3.py"


rule fig4:
    input:
        cells=toy_cells([config["toy"]["fig4"]["distance"]], config["toy"]["fig4"]["batch_sizes"]),
        floor=rules.toy_floor.output[0],
    output:
        artifact_outputs("fig4"),
    log:
        f"{WORK}/logs/fig4.log",
    conda:
        ENV
    script:
        "../scripts/fig4.py"
