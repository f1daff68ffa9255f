# The mini class-conditional stage: warm start, flow baseline, joint reference, iRDM arms, samples.
# Declared outputs are final weights + a done marker; periodic checkpoints live in {WORK}/work/<rule>/...,
# never declared, so a killed job resumes from its latest checkpoint. A training job also writes the generator's
# samples (classcond.eval: n_samples, seed) from the weights it saved: one process fewer per generator than a
# separate sampling job (a changed eval seed reruns it, resuming at its last checkpoint, so it only resamples).

wildcard_constraints:
    arm="|".join(IRDM_ARMS),
    gen="|".join(["real", "warmstart", r"flow_nfe\d+", *IRDM_ARMS, *(rf"{g}_seed\d+" for g in CC_REPLICATED["gens"])]),
    seed=r"\d+",


CC_SAMPLES = f"{CC_DIR}/samples/{{gen}}.safetensors"
SAMPLING = {"n": CC["eval"]["n_samples"], "seed": CC["eval"]["seed"]}


rule warmstart:
    """The one-step generator from scratch under the class-aware Frechet objective (pMF-H FD-SIM analogue)."""
    input:
        data=rules.mnist.output[0],
        weights=pipeline_weights(CC["warmstart"]["encoders"]),
    output:
        weights=f"{CC_DIR}/weights/warmstart.safetensors",
        done=f"{CC_DIR}/weights/warmstart.done.json",
        samples=CC_SAMPLES.format(gen="warmstart"),
    params:
        cfg={**CC["warmstart"], **CC["generator"], "n_classes": CC["n_classes"], "seed": CC["seed"]},
        sampling=SAMPLING,
        workdir=f"{WORK}/work/warmstart",
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.weights))),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        f"{WORK}/logs/classcond/warmstart.log",
    benchmark:
        f"{WORK}/benchmarks/classcond/warmstart.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_warmstart.py"


rule flow:
    """The multi-step baseline: class-conditional flow matching, and its samples at every NFE."""
    input:
        data=rules.mnist.output[0],
    output:
        weights=f"{CC_DIR}/weights/flow.safetensors",
        done=f"{CC_DIR}/weights/flow.done.json",
        samples=[CC_SAMPLES.format(gen=gen) for gen in FLOW_GENS],
    params:
        cfg={k: v for k, v in CC["flow"].items() if k != "nfe"} | {"n_classes": CC["n_classes"], "seed": CC["seed"]},
        sampling=SAMPLING | {"nfe": CC["flow"]["nfe"]},
        workdir=f"{WORK}/work/flow",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        f"{WORK}/logs/classcond/flow.log",
    benchmark:
        f"{WORK}/benchmarks/classcond/flow.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_flow.py"


rule joint_reference:
    """Joint Nystrom bundles over [phi | beta * onehot(y)] and PID floors, for every trained-against encoder."""
    input:
        data=rules.mnist.output[0],
        train=expand(rules.features.output.train, encoder=TRAIN_ENCODERS),
        val=expand(rules.features.output.val, encoder=TRAIN_ENCODERS),
        floors=expand(REFERENCE_FLOORS, encoder=TRAIN_ENCODERS),
    output:
        f"{CC_DIR}/joint_reference.safetensors",
    params:
        encoders=TRAIN_ENCODERS,
        joint=CC["joint"],
        reference=config["reference"],
        n_classes=CC["n_classes"],
        seed=CC["seed"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    log:
        f"{WORK}/logs/classcond/joint_reference.log",
    benchmark:
        f"{WORK}/benchmarks/classcond/joint_reference.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_joint_reference.py"


rule irdm_arm:
    """One iRDM arm (config classcond.arms, plus the batch_n<N> arms of classcond.batch_sweep)."""
    input:
        warmstart=rules.warmstart.output.weights,
        joint=rules.joint_reference.output[0],
        weights=lambda wildcards: pipeline_weights(arm_encoders(wildcards.arm)),
    output:
        weights=f"{CC_DIR}/weights/{{arm}}.safetensors",
        done=f"{CC_DIR}/weights/{{arm}}.done.json",
        samples=CC_SAMPLES.format(gen="{arm}"),
    params:
        cfg=lambda wildcards: arm_settings(wildcards.arm),
        sampling=lambda wildcards: SAMPLING | {"generator": wildcards.arm},
        workdir=lambda wildcards: f"{WORK}/work/irdm_arm/{wildcards.arm}",
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.weights))),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    log:
        f"{WORK}/logs/classcond/irdm_arm_{{arm}}.log",
    benchmark:
        f"{WORK}/benchmarks/classcond/irdm_arm_{{arm}}.tsv"
    conda:
        ENV
    script:
        "../scripts/cc_irdm_arm.py"


# A replicate: the same arm post-trained from the same warm start at another seed (its rollouts), for VERIFY's spread.
use rule irdm_arm as irdm_replicate with:
    output:
        weights=f"{CC_DIR}/weights/{{arm}}_seed{{seed}}.safetensors",
        done=f"{CC_DIR}/weights/{{arm}}_seed{{seed}}.done.json",
        samples=CC_SAMPLES.format(gen="{arm}_seed{seed}"),
    params:
        cfg=lambda wildcards: arm_settings(wildcards.arm) | {"seed": int(wildcards.seed)},
        sampling=lambda wildcards: SAMPLING | {"generator": f"{wildcards.arm}_seed{wildcards.seed}"},
        workdir=lambda wildcards: f"{WORK}/work/irdm_arm/{wildcards.arm}_seed{wildcards.seed}",
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.weights))),
    log:
        f"{WORK}/logs/classcond/irdm_arm_{{arm}}_seed{{seed}}.log",
    benchmark:
        f"{WORK}/benchmarks/classcond/irdm_arm_{{arm}}_seed{{seed}}.tsv"


rule samples:
    """The real val digits as samples: n_samples with uniform labels (a trained generator's samples come from its
    training job)."""
    wildcard_constraints:
        gen="real",
    input:
        data=rules.mnist.output[0],
    output:
        CC_SAMPLES,
    params:
        n=CC["eval"]["n_samples"],
        seed=CC["eval"]["seed"],
        n_classes=CC["n_classes"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/classcond/samples_{{gen}}.log",
    conda:
        ENV
    script:
        "../scripts/cc_samples.py"
