# Settings and helpers of the paper text-to-image rules (workflow/rules/t2i_paper.smk), which include this file.

import json
import shlex

from rdm_core.eval.geneval import scorer_command
from rdm_core.representation.text_paper import T2I_MODELS

T2P = config["t2i"]["paper"]
T2P_DIR = f"{WORK}/t2i"
GENEVAL_ENV = "workflow/envs/geneval.yaml"  # the scorer's own environment (the rule's conda:, from the workdir)
# use_released: Table 2 and Fig. 1 by evaluation alone; the released joint student (the keeper step) replaces
# training, there is no marginal student, and the curve has only its endpoints (steps, not GPU-hours)
T2P_RELEASED = T2I_RELEASED
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
