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


localrules:
    fetch_weights,
    fetch_all_weights,


rule fetch_weights:
    """Download one pretrained encoder's weights (needs network: run on a login node)."""
    output:
        f"{WORK}/weights/{{encoder}}/FETCHED.json",
    log:
        f"{WORK}/logs/weights/{{encoder}}.log",
    conda:
        ENV
    script:
        "../scripts/fetch_weights.py"


rule fetch_all_weights:
    """The pretrained weights of every encoder of the battery that the pipeline does not train."""
    input:
        [
            f"{WORK}/weights/{name}/FETCHED.json"
            for name in config["battery"]["names"]
            if name not in PIPELINE_TRAINED_ENCODERS
        ],
