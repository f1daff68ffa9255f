# The battery: encoders the pipeline trains itself (mini), on the train split only.


rule train_encoder:
    wildcard_constraints:
        encoder="|".join(PIPELINE_TRAINED_ENCODERS),
    input:
        data=rules.mnist.output[0],
    output:
        f"{WORK}/encoders/{{encoder}}.safetensors",
    params:
        seed=config["battery"]["seed"],
        steps=config["battery"]["steps"],
    threads: config["battery"]["threads"]
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/encoders/{{encoder}}.log",
    benchmark:
        f"{WORK}/benchmarks/encoders/{{encoder}}.tsv"
    conda:
        ENV
    script:
        "../scripts/train_encoder.py"
