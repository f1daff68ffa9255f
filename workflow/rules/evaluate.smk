# Evaluation: SW_rK and MMDrK against the frozen banks (never the training loss).


rule probes:
    """Probes of the metric: fresh real train images outside the banks, the same blurred, uniform noise."""
    input:
        unpack(real_data_input),
        banks=expand(rules.reference.output, encoder=config["battery"]["names"]),
        weights=pipeline_weights(config["battery"]["names"]),
    output:
        f"{RES}/metrics/eval/probes.json",
    params:
        names=config["battery"]["names"],
        seed=config["reference"]["seed"],
        data=config["data"],
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(input.banks[0]))),
        precision=config["battery"]["precision"],
        device=config["compute"]["evaluate"]["device"],
    threads: job_threads(config["compute"]["evaluate"])
    resources:
        **job_resources(config["compute"]["evaluate"]),
    log:
        f"{WORK}/logs/eval/probes.log",
    benchmark:
        f"{WORK}/benchmarks/eval/probes.tsv"
    conda:
        ENV
    script:
        "../scripts/probes.py"


rule evaluate_generator:
    """SW_rK / MMDrK (rdm_core.eval, off-objective) of one generator's samples (an external generator: its .npz
    from the config), and the held-out classifier's class agreement where the scale has one (mini)."""
    input:
        samples=lambda wildcards: CC["external"][wildcards.gen] if wildcards.gen in EXTERNAL_GENS
        else rules.samples.output[0].format(gen=wildcards.gen),
        banks=expand(rules.reference.output, encoder=config["battery"]["names"]),
        weights=pipeline_weights([*config["battery"]["names"], *CC_CLASSIFIER]),
    output:
        f"{RES}/metrics/eval/{{gen}}.json",
    params:
        names=config["battery"]["names"],
        classifier=CC_CLASSIFIER[0] if CC_CLASSIFIER else None,
        batch=CC["eval"]["batch"],
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(input.banks[0]))),
        precision=config["battery"]["precision"],
        device=config["compute"]["evaluate"]["device"],
    threads: job_threads(config["compute"]["evaluate"])
    resources:
        **job_resources(config["compute"]["evaluate"]),
    log:
        f"{WORK}/logs/eval/{{gen}}.log",
    benchmark:
        f"{WORK}/benchmarks/eval/{{gen}}.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_evaluate.py"


if CC_PAPER:

    PREF, PREF_JOB = CC["preference"], CC["compute"]["preference"]

    rule preference:
        """Matched-noise PickScore win rates of the player against each opponent: one-step renders of the same
        uniform random classes from the same noise (seed 1), prompts "a photo of a {classname}" (SPEC 2.4)."""
        input:
            unpack(lambda wildcards: {g: generator_weights(g)[0] for g in (PREF["player"], *PREF["opponents"])}),
        output:
            f"{RES}/metrics/eval/preference.json",
        params:
            player=PREF["player"],
            opponents=PREF["opponents"],
            n=PREF["n_samples"],
            seed=PREF["seed"],
            batch=PREF["batch"],
            n_classes=CC["n_classes"],
            generator=PMF_ARCH,
            weights_dir=config["t2i"]["paper"]["weights_dir"] or f"{WORK}/weights",
            device=PREF_JOB["device"],
        threads: job_threads(PREF_JOB)
        resources:
            **job_resources(PREF_JOB),
        log:
            f"{WORK}/logs/eval/preference.log",
        benchmark:
            f"{WORK}/benchmarks/eval/preference.tsv"
        conda:
            ENV
        script:
            "../scripts/pmf_preference.py"

else:

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
