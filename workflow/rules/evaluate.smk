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


rule evaluate_generator:
    """SW_rK / MMDrK (rdm_core.eval, off-objective) and class agreement of one generator's samples."""
    input:
        samples=rules.samples.output[0],
        banks=expand(rules.reference.output, encoder=config["battery"]["names"]),
        weights=pipeline_weights([*config["battery"]["names"], config["classcond"]["eval"]["classifier"]]),
    output:
        f"{RES}/metrics/eval/{{gen}}.json",
    params:
        names=config["battery"]["names"],
        classifier=config["classcond"]["eval"]["classifier"],
        batch=config["classcond"]["eval"]["batch"],
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(input.samples))),
    threads: config["compute"]["evaluate"]["cpus"]
    resources:
        mem_mb=config["compute"]["evaluate"]["mem_mb"],
        runtime=config["compute"]["evaluate"]["runtime"],
    log:
        f"{WORK}/logs/eval/{{gen}}.log",
    benchmark:
        f"{WORK}/benchmarks/eval/{{gen}}.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_evaluate.py"


rule preference:
    """Matched-pair win rates of the player (iRDM) from the held-out classifier's log p(requested class)."""
    input:
        samples=expand(rules.samples.output[0], gen=dict.fromkeys([
            config["classcond"]["preference"]["player"], *FLOW_GENS,
            *(o for o in config["classcond"]["preference"]["opponents"] if o != "flow_best")])),
        flow_evals=classcond_eval(FLOW_GENS),
        weights=pipeline_weights([config["classcond"]["eval"]["classifier"]]),
    output:
        f"{RES}/metrics/eval/preference.json",
    params:
        player=config["classcond"]["preference"]["player"],
        opponents=config["classcond"]["preference"]["opponents"],
        classifier=config["classcond"]["eval"]["classifier"],
        batch=config["classcond"]["eval"]["batch"],
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(input.samples[0]))),
    threads: 1
    log:
        f"{WORK}/logs/eval/preference.log",
    conda:
        ENV
    script:
        "../scripts/cc_preference.py"
