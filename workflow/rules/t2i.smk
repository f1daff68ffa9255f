# The text-to-image stage (Table 2, Fig. 1) at every scale but paper: the mini producer rules (captioned MNIST
# compositions, the all-MiniLM-L6-v2 text table, the flow-matching teacher, the joint / marginal one-step students,
# the held-out mini GenEval and PickScore scorers); t2i_paper.smk produces the same files at paper scale.
# table2 (tables.smk) and fig1 (figures.smk) read only the files of the T2I contract: metrics/t2i/{model}.json,
# curve.json, grids, so one rule of each serves both scales.
# Settings and path helpers (T2I, T2I_DIR, t2i_snapshots, ...) live in common.smk.

wildcard_constraints:
    law="|".join(T2I_LAWS),
    seed=r"\d+",
    t2i_model="|".join(T2I_MODELS),


rule t2i_data:
    """Captioned compositions: train digits (teacher, reference), val digits (scorers); the GenEval prompts."""
    input:
        data=rules.mnist.output[0],
    output:
        train=f"{T2I_DIR}/data/train.safetensors",
        val=f"{T2I_DIR}/data/val.safetensors",
        prompts=f"{T2I_DIR}/data/prompts.json",
    params:
        data=T2I["data"],
        geneval=T2I["geneval"],
        grid=T2I["grid"],
        seed=T2I["seed"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{WORK}/logs/t2i/data.log",
    conda:
        ENV
    script:
        "../scripts/t2i_data.py"


rule t2i_text:
    """The text table: tau = all-MiniLM-L6-v2 (mean-pooled, L2-normalised) of every distinct caption, once."""
    input:
        train=rules.t2i_data.output.train,
        prompts=rules.t2i_data.output.prompts,
    output:
        f"{T2I_DIR}/text.safetensors",
    params:
        batch=T2I["text"]["batch"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/text.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/text.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_text.py"


rule t2i_encoders:
    """The RGB image encoders of phi (fixed random conv; autoencoder trained on the train compositions)."""
    input:
        train=rules.t2i_data.output.train,
    output:
        f"{T2I_DIR}/encoders.safetensors",
    params:
        names=[name for name in T2I["encoders"] if not name.startswith("cell_")],
        train=T2I["encoder_train"],
        seed=T2I["seed"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/encoders.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/encoders.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_encoders.py"


rule t2i_reference:
    """Nystrom bundles of the real train pairs: joint [phi | beta tau] and marginal phi, per encoder."""
    input:
        train=rules.t2i_data.output.train,
        text=rules.t2i_text.output[0],
        encoders=rules.t2i_encoders.output[0],
        battery=pipeline_weights(t2i_battery()),
    output:
        expand(f"{T2I_DIR}/reference_{{law}}.safetensors", law=T2I_LAWS),
    params:
        names=T2I["encoders"],
        joint=T2I["joint"],
        reference=config["reference"] | {"landmarks": T2I["joint"]["landmarks"]},
        seed=T2I["seed"],
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output[0])),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/reference.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/reference.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_reference.py"


rule t2i_teacher:
    """The caption-conditional flow-matching teacher on the train compositions."""
    input:
        train=rules.t2i_data.output.train,
        text=rules.t2i_text.output[0],
    output:
        weights=f"{T2I_DIR}/weights/teacher.safetensors",
        done=f"{T2I_DIR}/weights/teacher.done.json",
    params:
        cfg=T2I["teacher"] | {"seed": T2I["seed"]},
        workdir=f"{WORK}/work/t2i_teacher",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    log:
        f"{WORK}/logs/t2i/teacher.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/teacher.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_teacher.py"


rule t2i_student:
    """The one-step student from the teacher, post-trained on the joint (or marginal) law; curve snapshots."""
    input:
        teacher=rules.t2i_teacher.output.weights,
        reference=f"{T2I_DIR}/reference_{{law}}.safetensors",
        train=rules.t2i_data.output.train,
        text=rules.t2i_text.output[0],
        encoders=rules.t2i_encoders.output[0],
        battery=pipeline_weights(t2i_battery()),
    output:
        weights=f"{T2I_DIR}/weights/student_{{law}}.safetensors",
        done=f"{T2I_DIR}/weights/student_{{law}}.done.json",
        snapshots=t2i_snapshots("{law}"),
    params:
        cfg=T2I["student"] | {"seed": T2I["seed"]},
        names=T2I["encoders"],
        workdir=lambda wildcards: f"{WORK}/work/t2i_student/{wildcards.law}",
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.weights))),
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    log:
        f"{WORK}/logs/t2i/student_{{law}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/student_{{law}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_student.py"


use rule t2i_student as t2i_student_replicate with:
    output:
        weights=f"{T2I_DIR}/weights/student_{{law}}_seed{{seed}}.safetensors",
        done=f"{T2I_DIR}/weights/student_{{law}}_seed{{seed}}.done.json",
    params:
        cfg=lambda wildcards: T2I["student"] | {"seed": int(wildcards.seed)},
        names=T2I["encoders"],
        workdir=lambda wildcards: f"{WORK}/work/t2i_student/{wildcards.law}_seed{wildcards.seed}",
        scale_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(os.path.dirname(output.weights))),
    log:
        f"{WORK}/logs/t2i/student_{{law}}_seed{{seed}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/student_{{law}}_seed{{seed}}.tsv"


rule t2i_geneval_scorer:
    """The held-out mini GenEval detector: a cell classifier (digit or empty, colour) on val digits only."""
    input:
        data=rules.mnist.output[0],
    output:
        f"{T2I_DIR}/scorers/geneval_cells.safetensors",
    params:
        cfg=T2I["geneval"]["scorer"],
        seed=T2I["seed"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/geneval_scorer.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/geneval_scorer.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_scorers.py"


rule t2i_pickscore_model:
    """The held-out mini PickScore model: a tiny CLIP trained on the val-digit compositions."""
    input:
        val=rules.t2i_data.output.val,
    output:
        f"{T2I_DIR}/scorers/pickscore.safetensors",
    params:
        cfg=T2I["pickscore"],
        seed=T2I["seed"],
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/pickscore_model.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/pickscore_model.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_scorers.py"


rule t2i_evaluate:
    """Mini GenEval and mean mini PickScore of one model on the prompt set (k samples per prompt, seeded
    per sample), and its sample grid on the grid prompts."""
    input:
        weights=t2i_weights,
        prompts=rules.t2i_data.output.prompts,
        text=rules.t2i_text.output[0],
        scorer=rules.t2i_geneval_scorer.output[0],
        pickscore=rules.t2i_pickscore_model.output[0],
    output:
        metrics=f"{RES}/metrics/t2i/{{t2i_model}}.json",
        grid=f"{T2I_DIR}/grids/{{t2i_model}}.safetensors",
    params:
        model=lambda wildcards: wildcards.t2i_model,
        nfe=lambda wildcards: 4 if wildcards.t2i_model == "teacher_nfe4" else 1,
        geneval=T2I["geneval"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/evaluate_{{t2i_model}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/evaluate_{{t2i_model}}.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_evaluate.py"


use rule t2i_evaluate as t2i_evaluate_replicate with:
    input:
        weights=rules.t2i_student_replicate.output.weights,
        prompts=rules.t2i_data.output.prompts,
        text=rules.t2i_text.output[0],
        scorer=rules.t2i_geneval_scorer.output[0],
        pickscore=rules.t2i_pickscore_model.output[0],
    output:
        metrics=f"{RES}/metrics/t2i/seeds/student_{{law}}_seed{{seed}}.json",
        grid=f"{T2I_DIR}/grids/seeds/student_{{law}}_seed{{seed}}.safetensors",
    params:
        model=lambda wildcards: f"student_{wildcards.law}_seed{wildcards.seed}",
        nfe=1,
        geneval=T2I["geneval"],
    log:
        f"{WORK}/logs/t2i/evaluate_student_{{law}}_seed{{seed}}.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/evaluate_student_{{law}}_seed{{seed}}.tsv"


rule t2i_real:
    """Mini GenEval and mean mini PickScore of the real val compositions on their own captions (Table 2's
    ceiling row)."""
    input:
        val=rules.t2i_data.output.val,
        scorer=rules.t2i_geneval_scorer.output[0],
        pickscore=rules.t2i_pickscore_model.output[0],
        prompts=rules.t2i_data.output.prompts,
        text=rules.t2i_text.output[0],
    output:
        f"{RES}/metrics/t2i/real_val.json",
    params:
        geneval=T2I["geneval"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/real.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/real.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_evaluate.py"


rule t2i_curve:
    """GenEval and PickScore of every saved checkpoint of the joint student against its training compute."""
    input:
        snapshots=t2i_snapshots("joint"),
        teacher=f"{RES}/metrics/t2i/teacher_nfe4.json",
        prompts=rules.t2i_data.output.prompts,
        text=rules.t2i_text.output[0],
        scorer=rules.t2i_geneval_scorer.output[0],
        pickscore=rules.t2i_pickscore_model.output[0],
    output:
        f"{RES}/metrics/t2i/curve.json",
    params:
        geneval=T2I["geneval"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        f"{WORK}/logs/t2i/curve.log",
    benchmark:
        f"{WORK}/benchmarks/t2i/curve.tsv"
    conda:
        ENV
    script:
        "../scripts/t2i_evaluate.py"
