# The frozen reference of each encoder: features once, then sigma, Nystrom bundle, floors and eval banks.


rule features:
    input:
        unpack(real_data_input),
        weights=encoder_weights_input,
    output:
        train=f"{WORK}/features/{{encoder}}/train.safetensors",
        val=f"{WORK}/features/{{encoder}}/val.safetensors",
    params:
        data=config["data"],
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.train))),
        weights_dir=config["battery"]["weights_dir"],
        batch=config["battery"]["batch"],
        precision=config["battery"]["precision"],
        device=config["compute"]["features"]["device"],
    threads: job_threads(config["compute"]["features"])
    resources:
        **job_resources(config["compute"]["features"]),
    log:
        f"{WORK}/logs/features/{{encoder}}.log",
    benchmark:
        f"{WORK}/benchmarks/features/{{encoder}}.tsv"
    conda:
        ENV
    script:
        "../scripts/features.py"


REFERENCE_DIR = f"{WORK}/reference/{{encoder}}/"
REFERENCE_FLOORS = f"{REFERENCE_DIR}floors.json"  # sigma and the real-data floors, read by later rules


rule reference:
    input:
        train=rules.features.output.train,
        val=rules.features.output.val,
    output:
        multiext(REFERENCE_DIR, "nystrom.safetensors", "sw_bank.safetensors", "rff_bank.safetensors", "floors.json"),
    params:
        reference=config["reference"],
        device=config["compute"]["reference"]["device"],
    threads: job_threads(config["compute"]["reference"])
    resources:
        **job_resources(config["compute"]["reference"]),
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
