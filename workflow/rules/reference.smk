# The frozen reference of each encoder: features once, then sigma, Nystrom bundle, floors and eval banks.


rule features:
    input:
        data=rules.mnist.output[0],
        weights=encoder_weights_input,
    output:
        train=f"{WORK}/features/{{encoder}}/train.safetensors",
        val=f"{WORK}/features/{{encoder}}/val.safetensors",
    params:
        seed=config["data"]["seed"],
    threads: config["battery"]["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        f"{WORK}/logs/features/{{encoder}}.log",
    benchmark:
        f"{WORK}/benchmarks/features/{{encoder}}.tsv"
    conda:
        ENV
    script:
        "../scripts/features.py"


rule reference:
    input:
        train=rules.features.output.train,
        val=rules.features.output.val,
    output:
        multiext(f"{WORK}/reference/{{encoder}}/", "nystrom.safetensors", "sw_bank.safetensors",
                 "rff_bank.safetensors", "floors.json"),
    params:
        reference=config["reference"],
    threads: config["battery"]["threads"]
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        f"{WORK}/logs/reference/{{encoder}}.log",
    benchmark:
        f"{WORK}/benchmarks/reference/{{encoder}}.tsv"
    conda:
        ENV
    script:
        "../scripts/reference.py"


rule reference_all:
    """The frozen reference of every encoder of the battery."""
    input:
        expand(rules.reference.output, encoder=config["battery"]["names"]),
