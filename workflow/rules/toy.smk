# The spiral diagnostic: one job per (distance, batch) cell; every artifact that uses a cell shares it. A replicate
# (toy_replicate) is the same cell trained at another seed, for VERIFY's spread.

wildcard_constraints:
    distance="frechet|sw|drifting|mmd_rff|mmd_exact|mmd_nystrom",
    batch=r"\d+",
    seed=r"\d+",


rule toy_cell:
    output:
        metrics=f"{RES}/metrics/toy/{{distance}}_B{{batch}}.json",
        samples=f"{WORK}/toy/{{distance}}_B{{batch}}.safetensors",
    params:
        toy=TOY_RUN,
    threads: config["toy"]["train"]["threads"]
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        f"{WORK}/logs/toy/{{distance}}_B{{batch}}.log",
    benchmark:
        f"{WORK}/benchmarks/toy/{{distance}}_B{{batch}}.tsv"
    conda:
        ENV
    script:
        "../scripts/toy_cell.py"


use rule toy_cell as toy_replicate with:
    output:
        metrics=f"{RES}/metrics/toy/seeds/{{distance}}_B{{batch}}_seed{{seed}}.json",
        samples=f"{WORK}/toy/seeds/{{distance}}_B{{batch}}_seed{{seed}}.safetensors",
    params:
        toy=lambda wildcards: TOY_RUN | {"train": TOY_RUN["train"] | {"seed": int(wildcards.seed)}},
    log:
        f"{WORK}/logs/toy/seeds/{{distance}}_B{{batch}}_seed{{seed}}.log",
    benchmark:
        f"{WORK}/benchmarks/toy/seeds/{{distance}}_B{{batch}}_seed{{seed}}.tsv"


rule toy_floor:
    output:
        f"{RES}/metrics/toy/real_floor.json",
    params:
        toy=TOY_RUN,
    log:
        f"{WORK}/logs/toy/real_floor.log",
    conda:
        ENV
    script:
        "../scripts/toy_floor.py"
