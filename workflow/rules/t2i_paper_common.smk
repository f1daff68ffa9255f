# Settings and helpers of the paper text-to-image rules (workflow/rules/t2i_paper.smk), which include this file.

import json
import shlex

from rdm_core.eval.geneval import scorer_command
from rdm_core.representation.text_paper import T2I_MODELS


def t2p_recipe(paper):
    """t2i.paper with its recipe (t2i.paper.recipe, one of t2i.paper.recipes) laid in: the keys in which the
    official baseline and geALLcoco recipes differ."""
    name = paper["recipe"]
    if name not in paper["recipes"]:
        raise ConfigError(f"t2i.paper.recipe: {name!r} is none of t2i.paper.recipes ({', '.join(paper['recipes'])})")
    r = paper["recipes"][name]
    return {**paper, "geneval_repeats": r["geneval_repeats"], "keeper": r["keeper"], "curve_steps": r["curve_steps"],
            "train": {**paper["train"], "steps": r["steps"]},
            "reference": {**paper["reference"], "landmarks": r["landmarks"], "source": r["reference"]}}


T2P = t2p_recipe(config["t2i"]["paper"])
T2P_DIR = f"{WORK}/t2i"
# recipe reference teacher (geallcoco): the reference is the curated teacher renders, built by the curation rules
T2P_TEACHER_REF = T2P["reference"]["source"] == "teacher"
T2P_KEPT_DIR = f"{T2P_DIR}/curation/coco"  # the kept COCO-caption teacher renders (PNGs), one folder per shard
# the curation's render stages (geneval, coco, kept), each as curation.shards[stage] jobs over contiguous rows
T2P_SHARDS = {stage: list(range(n)) for stage, n in T2P["curation"]["shards"].items()}
T2P_CURATION_IMAGES = [f"{T2P_DIR}/geneval/curation_{k}/images" for k in T2P_SHARDS["geneval"]]
T2P_REF_PAIRS = f"{T2P_DIR}/curation/reference.json" if T2P_TEACHER_REF else f"{T2P_DIR}/prompts/reference.json"
T2P_PREBUILT = T2P_TEACHER_REF and str(T2P["curation"]["prebuilt"]["use"]).lower() == "true"  # --config: "true"
if T2P_PREBUILT and not T2P["curation"]["prebuilt"]["dir"]:
    raise ConfigError("t2i.paper.curation.prebuilt.dir: null, but prebuilt.use is true: name the folder holding the "
                      "downloaded <encoder>_joint_M8192.pt bundles")
GENEVAL_ENV = "workflow/envs/geneval.yaml"  # the scorer's own environment (the rule's conda:, from the workdir)
# use_released: Table 2 and Fig. 1 by evaluation alone; the released joint student (the keeper step) replaces
# training, there is no marginal student, and the curve has only its endpoints (steps, not GPU-hours)
T2P_RELEASED = T2I_RELEASED
if T2P_RELEASED and T2P["recipe"] != "geallcoco":
    raise ConfigError(f"t2i.use_released: the released student is the geallcoco recipe's, not t2i.paper.recipe "
                      f"{T2P['recipe']!r}")
T2P_RELEASED_FILE = f"{T2P_DIR}/released/{os.path.basename(T2P['released']['file'])}"
T2P_ENCODERS = T2P["reference"]["encoders"] or TRAIN_ENCODERS
T2P_SAVED = sorted({T2P["keeper"], T2P["train"]["steps"], *T2P["curve_steps"]} - {0})  # student weights kept
T2P_MODELS = [f"teacher_nfe{T2P['teacher_nfe']}", "teacher_nfe1", "student_joint"] + \
    ([] if T2P_RELEASED else ["student_marginal"])
T2P_CURVE_STEPS = [0, T2P["keeper"]] if T2P_RELEASED else T2P["curve_steps"]
T2P_WEIGHTS_DIR = T2P["weights_dir"] or f"{WORK}/weights"


def t2p_job(name):
    """SLURM resources of one kind of job (every heavy job of the stage runs on GPUs)."""
    return job_resources(T2P["compute"][name])


def t2p_threads(name):
    return job_threads(T2P["compute"][name])


def t2p_model(model):
    """(nfe, student weights file or None) of a model id: teacher_nfe<k>, student_<arm>[_s<step>]."""
    if model.startswith("teacher_nfe"):
        return int(model.removeprefix("teacher_nfe")), None
    arm, _, step = model.removeprefix("student_").partition("_s")
    step = int(step) if step else T2P["keeper"]
    if step == 0:  # the untrained one-step initialisation: the teacher's weights at 1 step
        return 1, None
    if T2P_RELEASED:
        if (arm, step) != ("joint", T2P["keeper"]):
            raise ValueError(f"t2i.use_released: only the joint student at the keeper step is released, not {model}")
        return 1, T2P_RELEASED_FILE
    return 1, f"{T2P_DIR}/students/{arm}/s{step:04d}.safetensors"


def t2p_curve_model(step):
    """The model id evaluated at a curve step: the 1-step teacher at 0, the keeper's id at the keeper step."""
    if step == 0:
        return "teacher_nfe1"
    return "student_joint" if step == T2P["keeper"] else f"student_joint_s{step}"


def t2p_student_input(wildcards):
    student = t2p_model(wildcards.model)[1]
    return {"student": student} if student else {}


def t2p_reference_images(wildcards):
    """The reference's images: the COCO tree (baseline), or the curated teacher renders (geALLcoco)."""
    if not T2P_TEACHER_REF:
        return {}
    return {"geneval_renders": T2P_CURATION_IMAGES,
            "coco_renders": [f"{T2P_KEPT_DIR}/{k}" for k in T2P_SHARDS["kept"]]}
