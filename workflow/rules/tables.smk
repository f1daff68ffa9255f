# Tables: assembled from stage metrics; nothing here trains or evaluates.


rule table4:
    input:
        cells=toy_cells(config["toy"]["fig3"]["distances"], [config["toy"]["table4"]["batch_size"]]),
    output:
        artifact_outputs("table4"),
    log:
        f"{WORK}/logs/table4.log",
    conda:
        ENV
    script:
        "../scripts/table4.py"


rule table5:
    input:
        probes=rules.probes.output[0],
        floors=expand(f"{WORK}/reference/{{encoder}}/floors.json", encoder=config["battery"]["names"]),
    output:
        artifact_outputs("table5"),
    params:
        names=config["battery"]["names"],
    log:
        f"{WORK}/logs/table5.log",
    conda:
        ENV
    script:
        "../scripts/table5.py"
