# The class-conditional stage at paper scale (config `imagenet`): the pMF-H FD-SIM warm start post-trained by iRDM
# on ImageNet-256 against the marginal Nystrom bundles of the `reference` rule. Each arm is ONE job over all its
# GPUs with torchrun inside it; periodic checkpoints live in {WORK}/work/irdm_arm/<arm>/, so a restarted job
# resumes. With `use_released: true` the `irdm` generator is the downloaded release and nothing trains it.

wildcard_constraints:
    arm="|".join(IRDM_ARMS),
    gen="|".join(["real", "warmstart", *IRDM_ARMS, *EXTERNAL_GENS]),
    which="base|released",

PMF = CC["generator"]
PMF_ARCH = {"mit": {**PMF["mit"], "num_classes": CC["n_classes"]}, "guidance": PMF["guidance"],
            "precision": PMF["precision"], "trusted": PMF["trusted"]}
TRAIN_JOB, SAMPLE_JOB = CC["compute"]["train"], CC["compute"]["sample"]


localrules:
    fetch_generators,


rule fetch_generator:
    """Download a pMF-H checkpoint (the FD-SIM base or the released iRDM result) and check its sha256 (network)."""
    output:
        f"{WORK}/generators/{{which}}.pth",
    params:
        source=lambda wildcards: PMF[wildcards.which],
        key=lambda wildcards: f"imagenet.generator.{wildcards.which}",
    log:
        f"{WORK}/logs/generators/fetch_{{which}}.log",
    conda:
        ENV
    script:
        "../scripts/fetch_generator.py"


rule fetch_generators:
    """Every pMF-H checkpoint this configuration samples from (run on a node with network)."""
    input:
        [f"{WORK}/generators/{which}.pth" for which in ("base", "released") if which == "base" or CC["use_released"]],


rule irdm_arm:
    """One iRDM arm: torchrun over the job's GPUs, GradCache over the rollout N, PID or uniform weights."""
    input:
        base=f"{WORK}/generators/base.pth",
        references=lambda wildcards: expand(rules.reference.output, encoder=arm_encoders(wildcards.arm)),
        weights=lambda wildcards: pipeline_weights(arm_encoders(wildcards.arm)),
    output:
        weights=f"{CC_DIR}/weights/{{arm}}.safetensors",
        done=f"{CC_DIR}/weights/{{arm}}.done.json",
    params:
        cfg=lambda wildcards: arm_settings(wildcards.arm),
        generator=PMF_ARCH,
        workdir=lambda wildcards: f"{WORK}/work/irdm_arm/{wildcards.arm}",
        scale_dir=lambda wildcards, input: os.path.dirname(os.path.dirname(os.path.dirname(input.references[0]))),
        weights_dir=config["battery"]["weights_dir"],
        encoder_precision=config["battery"]["precision"],
    threads: job_threads(TRAIN_JOB)
    resources:
        **job_resources(TRAIN_JOB),
    log:
        f"{WORK}/logs/imagenet/irdm_arm_{{arm}}.log",
    benchmark:
        f"{WORK}/benchmarks/imagenet/irdm_arm_{{arm}}.tsv"
    conda:
        ENV
    script:
        "../scripts/pmf_irdm_arm.py"


rule samples:
    """16,384 one-step renders of a generator (uniform labels, seed 0; SPEC 2.2) or the real val images, as an
    ADM-style .npz (uint8 NHWC + labels)."""
    input:
        unpack(lambda wildcards: {"weights": generator_weights(wildcards.gen)} if wildcards.gen != "real" else {}),
    output:
        f"{CC_DIR}/samples/{{gen}}.npz",
    params:
        n=CC["eval"]["n_samples"],
        seed=CC["eval"]["seed"],
        batch=CC["eval"]["batch"],
        n_classes=CC["n_classes"],
        generator=PMF_ARCH,
        data=config["data"],
        device=SAMPLE_JOB["device"],
    threads: job_threads(SAMPLE_JOB)
    resources:
        **job_resources(SAMPLE_JOB),
    log:
        f"{WORK}/logs/imagenet/samples_{{gen}}.log",
    benchmark:
        f"{WORK}/benchmarks/imagenet/samples_{{gen}}.tsv"
    conda:
        ENV
    script:
        "../scripts/pmf_samples.py"
