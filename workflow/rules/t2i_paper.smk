# Text-to-image at paper scale (included when scale == "paper"): FLUX.2 [klein]-4B post-trained from 4 steps to
# 1 with the joint iRDM objective over COCO pairs (SPEC 1.4, 4.2), GenEval (official scorer, external) and
# PickScore (SPEC 2.4, 2.5). Writes the files of the text-to-image contract (T2I_CONTRACT): the per-model
# metrics, the compute curve of the joint student and the sample grids read by table2 / fig1.
# Pretrained weights are never fetched by a job: `fetch_all_t2i_weights` (local, needs network) puts them in
# {WORK}/weights/<model>/; a job whose weights are missing fails at once naming that rule.

# Its settings and helpers (T2P, t2p_model, ...) live in common.smk.


wildcard_constraints:
    arm="joint|marginal",
    model=r"teacher_nfe\d+|student_(joint|marginal)(_s\d+)?",
    pset="pool|geneval|cocoval|pickapic",
    t2i_weights="|".join(T2I_WEIGHTS),
    shard=r"\d+",


localrules:
    fetch_t2i_weights,
    fetch_t2i_released,
    fetch_all_t2i_weights,
    t2i_paper_metrics,
    t2i_paper_curve,
    t2i_paper_winrates,
    t2i_paper_curate,
    t2i_paper_pool,
    t2i_paper,


ruleorder: fetch_t2i_weights > fetch_weights


rule fetch_t2i_weights:
    """Download one text-to-image model's weights (needs network: run on a login node)."""
    output:
        f"{WORK}/weights/{{t2i_weights}}/FETCHED.json",
    log:
        f"{WORK}/logs/weights/{{t2i_weights}}.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_fetch.py"


rule fetch_all_t2i_weights:
    """FLUX.2 [klein]-4B, the SigLIP2 text tower, PickScore_v1 and its CLIP-H processor."""
    input:
        expand(f"{WORK}/weights/{{t2i_weights}}/FETCHED.json", t2i_weights=list(T2I_WEIGHTS)),


rule fetch_t2i_released:
    """The released joint student (t2i.paper.released; {"model": native flux2 keys}), sha256-checked (network)."""
    output:
        T2P_RELEASED_FILE,
    params:
        source=T2P["released"],
        key="t2i.paper.released",
    log:
        f"{WORK}/logs/t2i/fetch_released.log",
    conda:
        ENV
    script:
        "../scripts/fetch_generator.py"


rule t2i_paper_prompts:
    """COCO train pairs (the baseline's reference), the bundled GenEval prompts, both PickScore prompt sets
    (COCO-val captions, the bundled Pick-a-Pic test prompts): the same for every recipe."""
    input:
        geneval=T2P["geneval"]["prompts"],
        pickapic=T2P["pickscore"]["pickapic"]["prompts"],
    output:
        reference=f"{T2P_DIR}/prompts/reference.json",
        geneval=f"{T2P_DIR}/prompts/geneval.json",
        cocoval=f"{T2P_DIR}/prompts/cocoval.json",
        pickapic=f"{T2P_DIR}/prompts/pickapic.json",
    params:
        coco=T2P["coco"],
        pickscore=T2P["pickscore"],
    log:
        f"{WORK}/logs/t2i/prompts.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_prompts.py"


rule t2i_paper_pool:
    """The generator's prompt pool: the COCO captions, then each GenEval prompt geneval_repeats times (the
    recipe's one say in the prompts, so a recipe change leaves the evaluation prompts and their jobs alone)."""
    input:
        reference=rules.t2i_paper_prompts.output.reference,
        geneval=rules.t2i_paper_prompts.output.geneval,
    output:
        f"{T2P_DIR}/prompts/pool.json",
    params:
        geneval_repeats=T2P["geneval_repeats"],
    log:
        f"{WORK}/logs/t2i/pool.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_pool.py"


rule t2i_paper_contexts:
    """Qwen3 contexts (layers 9/18/27) of one prompt set, precomputed once: ctx_len tokens (232 for Pick-a-Pic)."""
    input:
        prompts=f"{T2P_DIR}/prompts/{{pset}}.json",
    output:
        f"{T2P_DIR}/ctx/{{pset}}.npy",
    params:
        weights_dir=T2P_WEIGHTS_DIR,
        ctx_len=lambda wildcards: T2P["pickscore"]["pickapic"]["ctx_len"] if wildcards.pset == "pickapic" else T2P["ctx_len"],
        batch=T2P["ctx_batch"],
        device=T2P["compute"]["contexts"]["device"],
    threads: t2p_threads("contexts")
    resources:
        **t2p_job("contexts"),
    log:
        f"{WORK}/logs/t2i/contexts_{{pset}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/contexts_{{pset}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_contexts.py"


rule t2i_paper_text:
    """tau: the SigLIP2 text embeddings (L2-normalised) of the prompt pool (its first rows: the COCO captions)."""
    input:
        prompts=rules.t2i_paper_pool.output[0],
    output:
        f"{T2P_DIR}/text/pool.safetensors",
    params:
        weights_dir=T2P_WEIGHTS_DIR,
        batch=T2P["text_batch"],
        precision=config["battery"]["precision"],
        device=T2P["compute"]["text"]["device"],
    threads: t2p_threads("text")
    resources:
        **t2p_job("text"),
    log:
        f"{WORK}/logs/t2i/text.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/text.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_text.py"


rule t2i_paper_teacher_geneval:
    """geALLcoco curation: curation.geneval.seeds 4-step teacher renders of each GenEval prompt of one shard (the
    official render driver's noise), in the scorer's layout: scored by t2i_paper_geneval_score (model curation_<k>)."""
    input:
        prompts=rules.t2i_paper_prompts.output.geneval,
        ctx=f"{T2P_DIR}/ctx/geneval.npy",
    output:
        directory(f"{T2P_DIR}/geneval/curation_{{shard}}/images"),
    params:
        nfe=T2P["teacher_nfe"],
        weights_dir=T2P_WEIGHTS_DIR,
        resolution=T2P["resolution"],
        samples=T2P["curation"]["geneval"]["seeds"],
        seed_base=None,
        noise="render",
        shard=lambda wildcards: int(wildcards.shard),
        shards=len(T2P_SHARDS["geneval"]),
        batch=T2P["sample_batch"],
        device=T2P["compute"]["sample"]["device"],
    threads: t2p_threads("sample")
    resources:
        **t2p_job("sample"),
    log:
        f"{WORK}/logs/t2i/teacher_geneval_{{shard}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/teacher_geneval_{{shard}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_geneval_images.py"


rule t2i_paper_teacher_coco:
    """geALLcoco curation: PickScore of curation.coco.seeds 4-step teacher renders of each COCO reference caption of
    one shard."""
    input:
        pairs=rules.t2i_paper_prompts.output.reference,
        ctx=f"{T2P_DIR}/ctx/pool.npy",
    output:
        f"{T2P_DIR}/curation/coco_pickscore/{{shard}}.safetensors",
    params:
        nfe=T2P["teacher_nfe"],
        seeds=T2P["curation"]["coco"]["seeds"],
        shard=lambda wildcards: int(wildcards.shard),
        shards=len(T2P_SHARDS["coco"]),
        weights_dir=T2P_WEIGHTS_DIR,
        resolution=T2P["resolution"],
        batch=T2P["pickscore"]["batch"],
        device=T2P["compute"]["pickscore"]["device"],
    threads: t2p_threads("pickscore")
    resources:
        **t2p_job("pickscore"),
    log:
        f"{WORK}/logs/t2i/teacher_coco_{{shard}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/teacher_coco_{{shard}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_teacher_coco.py"


rule t2i_paper_curate:
    """The geALLcoco reference rows: [GenEval-correct teacher renders, at most curation.geneval.cap per prompt |
    the curation.coco.keep COCO renders of highest PickScore per caption], from every shard of the renders."""
    input:
        results=[f"{T2P_DIR}/geneval/curation_{k}/results.jsonl" for k in T2P_SHARDS["geneval"]],
        images=T2P_CURATION_IMAGES,
        scores=expand(rules.t2i_paper_teacher_coco.output[0], shard=T2P_SHARDS["coco"]),
        pairs=rules.t2i_paper_prompts.output.reference,
        geneval=rules.t2i_paper_prompts.output.geneval,
    output:
        f"{T2P_DIR}/curation/reference.json",
    params:
        root=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),  # file paths relative to it
        coco_dir=os.path.relpath(T2P_KEPT_DIR, T2P_DIR),
        kept_shards=len(T2P_SHARDS["kept"]),
        cap=T2P["curation"]["geneval"]["cap"],
        keep=T2P["curation"]["coco"]["keep"],
    log:
        f"{WORK}/logs/t2i/curate.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_curate.py"


rule t2i_paper_teacher_kept:
    """geALLcoco curation: the kept COCO-caption teacher renders of one shard, rendered again from their noise, as
    PNGs."""
    input:
        reference=rules.t2i_paper_curate.output[0],
        ctx=f"{T2P_DIR}/ctx/pool.npy",
    output:
        directory(f"{T2P_KEPT_DIR}/{{shard}}"),
    params:
        nfe=T2P["teacher_nfe"],
        shard=lambda wildcards: int(wildcards.shard),
        shards=len(T2P_SHARDS["kept"]),
        weights_dir=T2P_WEIGHTS_DIR,
        resolution=T2P["resolution"],
        batch=T2P["sample_batch"],
        device=T2P["compute"]["sample"]["device"],
    threads: t2p_threads("sample")
    resources:
        **t2p_job("sample"),
    log:
        f"{WORK}/logs/t2i/teacher_kept_{{shard}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/teacher_kept_{{shard}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_teacher_kept.py"


rule t2i_paper_features:
    """Image features of one battery encoder over the reference images (centre-cropped to the output size)."""
    input:
        unpack(t2p_reference_images),
        pairs=T2P_REF_PAIRS,
    output:
        f"{T2P_DIR}/features/{{encoder}}.safetensors",
    params:
        source="teacher renders" if T2P_TEACHER_REF else "coco",
        resolution=T2P["resolution"],
        batch=T2P["reference"]["feature_batch"],
        workers=T2P["reference"]["workers"],
        weights_dir=config["battery"]["weights_dir"],
        precision=config["battery"]["precision"],
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output[0]))),
        device=T2P["compute"]["features"]["device"],
    threads: t2p_threads("features")
    resources:
        **t2p_job("features"),
    log:
        f"{WORK}/logs/t2i/features_{{encoder}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/features_{{encoder}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_features.py"


rule t2i_paper_reference:
    """Joint [phi | beta tau] (or, marginal, image-only) Nystrom bundles of the reference pairs, per encoder (with
    the prebuilt bundles, the marginal arm only: a missing prebuilt file is an error, never a silent rebuild)."""
    wildcard_constraints:
        arm="marginal" if T2P_PREBUILT else "joint|marginal",
    input:
        features=expand(f"{T2P_DIR}/features/{{encoder}}.safetensors", encoder=T2P_ENCODERS),
        pairs=T2P_REF_PAIRS,
        text=rules.t2i_paper_text.output[0],
    output:
        f"{T2P_DIR}/reference/{{arm}}.safetensors",
    params:
        encoders=T2P_ENCODERS,
        joint=lambda wildcards: wildcards.arm == "joint",
        cfg=T2P["reference"],
        reference=config["reference"],
        seed=config["reference"]["seed"],
        device=T2P["compute"]["reference"]["device"],
    threads: t2p_threads("reference")
    resources:
        **t2p_job("reference"),
    log:
        f"{WORK}/logs/t2i/reference_{{arm}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/reference_{{arm}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_reference.py"


if T2P_PREBUILT:

    rule t2i_paper_prebuilt:
        """The joint reference from the authors' prebuilt geALLcoco bundles (t2i.paper.curation.prebuilt), each
        checked against its pinned sha256: an alternative input, used only with curation.prebuilt.use."""
        input:
            bundles=[f"{T2P['curation']['prebuilt']['dir']}/{name}_joint_M{T2P['reference']['landmarks']}.pt"
                     for name in T2P_ENCODERS],
        output:
            f"{T2P_DIR}/reference/joint.safetensors",
        params:
            encoders=T2P_ENCODERS,
            sha256=T2P["curation"]["prebuilt"]["sha256"],
            repo=T2P["curation"]["prebuilt"]["repo"],
            landmarks=T2P["reference"]["landmarks"],
        log:
            f"{WORK}/logs/t2i/prebuilt.log",
        conda:
            ENV
        script:
            "../scripts/t2i_paper_prebuilt.py"


rule t2i_paper_train:
    """Post-train the student (one job, torchrun over its GPUs); keeps the weights of every evaluated step.
    Periodic checkpoints live in {WORK}/work/t2i_<arm>/<hash of config and inputs>/, so a killed job resumes."""
    input:
        reference=f"{T2P_DIR}/reference/{{arm}}.safetensors",
        pool=rules.t2i_paper_pool.output[0],
        ctx=f"{T2P_DIR}/ctx/pool.npy",
        text=rules.t2i_paper_text.output[0],
    output:
        weights=[f"{T2P_DIR}/students/{{arm}}/s{step:04d}.safetensors" for step in T2P_SAVED],
        compute=f"{T2P_DIR}/students/{{arm}}/compute.json",
    params:
        spec=lambda wildcards, input, output: json.dumps({
            "arm": wildcards.arm, "cfg": {**T2P["train"], "joint": wildcards.arm == "joint",
                                          "s_txt": T2P["reference"]["s_txt"]},
            "saved": T2P_SAVED, "encoders": T2P_ENCODERS, "resolution": T2P["resolution"],
            "weights_dir": T2P_WEIGHTS_DIR, "battery_weights_dir": config["battery"]["weights_dir"],
            "precision": config["battery"]["precision"],
            "scale_dir": WORK, "workdir": f"{WORK}/work/t2i_{wildcards.arm}", "input": dict(input),
            "output": {"weights": list(output.weights), "compute": output.compute},
            "log": f"{WORK}/logs/t2i/train_{wildcards.arm}.log"}),
    threads: t2p_threads("train")
    resources:
        **t2p_job("train"),
    log:
        f"{WORK}/logs/t2i/train_{{arm}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/train_{{arm}}.tsv"
    conda:
        ENV
    shell:
        "torchrun --standalone --nproc_per_node={resources.gpu} workflow/scripts/t2i_paper_train.py {params.spec:q}"


rule t2i_paper_geneval_images:
    """553 GenEval prompts x 4 samples (seed 46,000,000 + 100 prompt + sample) in the scorer's folder layout."""
    input:
        unpack(t2p_student_input),
        prompts=rules.t2i_paper_prompts.output.geneval,
        ctx=f"{T2P_DIR}/ctx/geneval.npy",
    output:
        directory(f"{T2P_DIR}/geneval/{{model}}/images"),
    params:
        nfe=lambda wildcards: t2p_model(wildcards.model)[0],
        weights_dir=T2P_WEIGHTS_DIR,
        resolution=T2P["resolution"],
        samples=T2P["geneval"]["samples"],
        seed_base=T2P["geneval"]["seed_base"],
        noise="geneval",
        shard=0,
        shards=1,
        batch=T2P["sample_batch"],
        device=T2P["compute"]["sample"]["device"],
    threads: t2p_threads("sample")
    resources:
        **t2p_job("sample"),
    log:
        f"{WORK}/logs/t2i/geneval_images_{{model}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/geneval_images_{{model}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_geneval_images.py"


rule t2i_paper_geneval_score:
    """The official GenEval scorer (its clone, t2i.paper.geneval.root) in its own environment, GENEVAL_ENV
    (`snakemake --use-conda`); without it the job stops at once naming that file. Model "curation": the teacher
    renders of one shard of the geALLcoco curation."""
    wildcard_constraints:
        model=r"teacher_nfe\d+|student_(joint|marginal)(_s\d+)?|curation_\d+",
    input:
        images=rules.t2i_paper_geneval_images.output[0],
    output:
        f"{T2P_DIR}/geneval/{{model}}/results.jsonl",
    params:
        env=GENEVAL_ENV,
        argv=lambda wildcards, input, output: shlex.join(scorer_command(
            T2P["geneval"], os.path.abspath(input.images), os.path.abspath(output[0]) + ".part")),
    threads: t2p_threads("geneval")
    resources:
        **t2p_job("geneval"),
    log:
        f"{WORK}/logs/t2i/geneval_score_{{model}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/geneval_score_{{model}}.tsv"
    conda:
        "../envs/geneval.yaml"
    shell:
        "python workflow/scripts/geneval_run.py {params.env} {params.argv} > {log} 2>&1 "
        "|| {{ tail -n 20 {log} >&2; exit 1; }}; mv {output}.part {output}"


rule t2i_paper_pickscore:
    """PickScore_v1 of one model on both prompt sets, the same noise for every model: COCO-val (one seed per
    prompt) and Pick-a-Pic (one noise stream, the official protocol). One job: the scorer and the generator load
    once. Also the model's Fig. 1 sample grid: its first grid.n COCO-val renders."""
    input:
        unpack(t2p_student_input),
        prompts=expand(f"{T2P_DIR}/prompts/{{ps}}.json", ps=T2P_PICKSCORE_SETS),
        ctx=expand(f"{T2P_DIR}/ctx/{{ps}}.npy", ps=T2P_PICKSCORE_SETS),
    output:
        scores=expand(f"{T2P_DIR}/pickscore/{{ps}}/{{{{model}}}}.safetensors", ps=T2P_PICKSCORE_SETS),
        grid=f"{WORK}/t2i/grids/{{model}}.safetensors",
    params:
        sets=T2P_PICKSCORE_SETS,
        grid_n=T2P["grid"]["n"],
        nfe=lambda wildcards: t2p_model(wildcards.model)[0],
        weights_dir=T2P_WEIGHTS_DIR,
        resolution=T2P["resolution"],
        batch=T2P["pickscore"]["batch"],
        device=T2P["compute"]["pickscore"]["device"],
    threads: t2p_threads("pickscore")
    resources:
        **t2p_job("pickscore"),
    log:
        f"{WORK}/logs/t2i/pickscore_{{model}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/pickscore_{{model}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_paper_pickscore.py"


rule t2i_paper_metrics:
    """The contract's metrics file of one model: GenEval per task and overall, mean PickScore on COCO-val (the
    abstract's) and on Pick-a-Pic (the official protocol)."""
    input:
        geneval=rules.t2i_paper_geneval_score.output[0],
        images=rules.t2i_paper_geneval_images.output[0],
        pickscore=f"{T2P_DIR}/pickscore/cocoval/{{model}}.safetensors",
        pickscore_pickapic=f"{T2P_DIR}/pickscore/pickapic/{{model}}.safetensors",
    output:
        f"{RES}/metrics/t2i/{{model}}.json",
    params:
        nfe=lambda wildcards: t2p_model(wildcards.model)[0],
    log:
        f"{WORK}/logs/t2i/metrics_{{model}}.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_metrics.py"


rule t2i_paper_curve:
    """Fig. 1c: GenEval and PickScore of the joint student's checkpoints against post-training GPU-hours (with
    use_released: the untrained 1-step init and the released student, against post-training steps)."""
    input:
        teacher=f"{RES}/metrics/t2i/teacher_nfe{T2P['teacher_nfe']}.json",
        points=[f"{RES}/metrics/t2i/{t2p_curve_model(step)}.json" for step in T2P_CURVE_STEPS],
        compute=[] if T2P_RELEASED else f"{T2P_DIR}/students/joint/compute.json",
    output:
        f"{RES}/metrics/t2i/curve.json",
    params:
        steps=T2P_CURVE_STEPS,
    log:
        f"{WORK}/logs/t2i/curve.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_curve.py"


rule t2i_paper_winrates:
    """PickScore head-to-heads on matched noise (COCO-val): the joint student against the teacher and the marginal arm."""
    input:
        scores=expand(f"{T2P_DIR}/pickscore/cocoval/{{model}}.safetensors", model=T2P_MODELS),
    output:
        f"{RES}/metrics/t2i/pickscore_winrates.json",
    params:
        models=T2P_MODELS,
    log:
        f"{WORK}/logs/t2i/winrates.log",
    conda:
        ENV
    script:
        "../scripts/t2i_paper_winrates.py"


rule t2i_paper:
    """Every file of the text-to-image contract at paper scale, and the PickScore win rates."""
    input:
        expand(f"{RES}/metrics/t2i/{{model}}.json", model=T2P_MODELS),
        rules.t2i_paper_curve.output,
        expand(f"{WORK}/t2i/grids/{{model}}.safetensors", model=[T2P_MODELS[0], "student_joint"]),
        rules.t2i_paper_winrates.output,
