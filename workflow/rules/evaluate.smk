# Evaluation: SW_rK and MMDrK against the frozen banks (never the training loss).


rule probes:
    """Probes of the metric: fresh real digits outside the banks, the same blurred, uniform noise."""
    input:
        data=rules.mnist.output[0],
        banks=expand(rules.reference.output, encoder=config["battery"]["names"]),
        weights=pipeline_weights(config["battery"]["names"]),
    output:
        f"{RES}/metrics/eval/probes.json",
    params:
        names=config["battery"]["names"],
        seed=config["reference"]["seed"],
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(input.data)),
    threads: config["battery"]["threads"]
    log:
        f"{WORK}/logs/eval/probes.log",
    benchmark:
        f"{WORK}/benchmarks/eval/probes.tsv"
    conda:
        ENV
    script:
        "../scripts/probes.py"
