# Shared set-up: validate every config file before any job, and the path helpers the rules use.

import json
import math
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

from rdm_core.config import ConfigError, load_yaml, validate
from rdm_core.eval.geneval import scorer_command
from rdm_core.io import write_text
from rdm_core.report.captions import artifact_caption
from rdm_core.representation.mini import MODELS as PIPELINE_TRAINED_ENCODERS
from rdm_core.representation.spec import get_spec, known_encoders
from rdm_core.representation.text_paper import T2I_MODELS as T2I_WEIGHTS  # the pretrained models, by name
from rdm_core.train.t2i import snapshot_steps

try:
    CONFIG_SOURCE = " + ".join(["config/config.yaml", *map(str, workflow.overwrite_configfiles)])
    validate(config, "config.schema.yaml", f"the configuration ({CONFIG_SOURCE}, with any --config)")
    ARTIFACTS = load_yaml("config/artifacts.yaml", "artifacts.schema.yaml")
    PAPER_NUMBERS = load_yaml("config/paper_numbers.yaml", "paper_numbers.schema.yaml")
    unpublished = sorted(set(PAPER_NUMBERS) - set(ARTIFACTS))
    if unpublished:
        raise ConfigError(f"config/paper_numbers.yaml: unknown artifact(s) {', '.join(unpublished)}; "
                          "each key must be an artifact of config/artifacts.yaml")
    unknown = [name for name in config["battery"]["names"] if name not in known_encoders()]
    if unknown:
        raise ConfigError(f"battery.names: unknown encoder(s) {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(known_encoders()))}")
except ConfigError as err:
    raise WorkflowError(str(err)) from None

SCALE = config["scale"]
RES = f"results/{SCALE}"  # what reviewers read (committed for mini)
WORK = f"resources/{SCALE}"  # large intermediates, logs and benchmarks (git-ignored)
ENV = "../../environment.yml"  # relative to workflow/rules/
TOY_RUN = {key: config["toy"][key] for key in ("data", "generator", "train", "distances", "eval")}


def job_resources(job):
    """What one `compute:` job asks the scheduler for, in the SLURM plugin's keys: gpu (and gpu_model, giving
    --gpus=MODEL:N) with cpus_per_gpu on GPU jobs, mem_mb and runtime (minutes); gpu 0 asks for no GPU."""
    gpus = {"cpus_per_gpu": job["cpus_per_gpu"], **({"gpu_model": job["gpu_model"]} if "gpu_model" in job else {})}
    return {"gpu": job["gpu"], **(gpus if job["gpu"] else {}), "mem_mb": job["mem_mb"], "runtime": job["runtime"]}


def job_threads(job):
    """The job's CPUs: cpus_per_gpu on each of its GPUs, or cpus_per_gpu alone for a CPU job."""
    return max(1, job["gpu"]) * job["cpus_per_gpu"]


def artifact_outputs(name):
    """The files of one artifact, from the artifact table."""
    return [f"{RES}/{path}" for path in ARTIFACTS[name]["outputs"]]


REPORT_EXTS = (".png", ".csv")  # what the HTML report embeds (PDF, Markdown and LaTeX are the same content)
REPORT_TEMPLATE = Path(workflow.basedir, "workflow/report/artifact.rst").read_text()


def artifact_report_outputs(name):
    """The files of one artifact, its PNG figures and CSV tables flagged for the report with the caption its row
    of the artifact table renders to (written under .snakemake/, git-ignored, whenever the text changes)."""
    row = ARTIFACTS[name]
    rule_file = os.path.relpath(workflow.included_stack[-1].get_path_or_uri(secret_free=True), workflow.basedir)
    # the report renders captions with Jinja again: keep the rendered text literal
    text = f"{{% raw %}}\n{artifact_caption(REPORT_TEMPLATE, name, row, config, rule_file)}{{% endraw %}}\n"
    caption = Path(".snakemake", "report_captions", SCALE, f"{name}.rst").resolve()
    if not caption.is_file() or caption.read_text() != text:
        write_text(caption, text)
    return [report(path, caption=str(caption), category=row["paper"], subcategory=row["title"]) if path.endswith(REPORT_EXTS) else path
            for path in artifact_outputs(name)]


# Artifacts of this scale: a row with `scales` applies only there (the mini class-conditional stage has no
# paper-scale generator yet).
SCALE_ARTIFACTS = [name for name in ARTIFACTS if SCALE in ARTIFACTS[name].get("scales", [SCALE])]
ALL_ARTIFACT_FILES = [path for name in SCALE_ARTIFACTS for path in artifact_outputs(name)]
CLASSCOND = "table1" in SCALE_ARTIFACTS  # the class-conditional stage runs at this scale


def toy_cells(distances, batches, kind="metrics"):
    """Metric (JSON) or sample (safetensors) files of a grid of toy cells."""
    if kind == "metrics":
        return [f"{RES}/metrics/toy/{d}_B{b}.json" for d in distances for b in batches]
    return [f"{WORK}/toy/{d}_B{b}.safetensors" for d in distances for b in batches]


def pipeline_weights(names):
    """The weights files the pipeline trains for these encoders (encoders with shipped weights have none)."""
    return [f"{WORK}/encoders/{name}.safetensors" for name in names if name in PIPELINE_TRAINED_ENCODERS]


def encoder_weights_input(wildcards):
    return pipeline_weights([wildcards.encoder])


def real_data_input(wildcards):
    """The prepared data file the real-image split is read from (ImageNet roots are checked at run time)."""
    return {"data": rules.mnist.output[0]} if config["data"]["source"] == "mnist" else {}


# The class-conditional stage: mini (config `classcond`, workflow/rules/train.smk) or paper (config `imagenet`,
# workflow/rules/train_paper.smk: pMF-H post-trained on ImageNet); the arms, tables and figures are shared.
CC_PAPER = config.get("imagenet") is not None
CC = config["imagenet"] if CC_PAPER else config["classcond"]
TRAIN_ENCODERS = [n for n in config["battery"]["names"] if get_spec(n).split == "train"]
CC_DIR = f"{WORK}/{'imagenet' if CC_PAPER else 'classcond'}"


def batch_arms(sweep):
    """Fig. 4 / Table 6 arms: steps = samples_seen / N, each stopped at `seconds` of training when that is set (the
    matched wall-clock), lr = lr_ref * sqrt(N / n_ref)."""
    budget = {} if sweep.get("seconds") is None else {"seconds": sweep["seconds"]}
    return {f"batch_n{n}": {"encoders": [sweep["encoder"]], "pid": False, "rollout": n, "chunk": min(n, sweep["chunk"]),
                            "lr": sweep["lr_ref"] * math.sqrt(n / sweep["n_ref"]), "grad_clip": sweep["grad_clip"],
                            "steps": max(1, sweep["samples_seen"] // n), **budget}
            for n in sweep["rollouts"]}


def sweep_budget(sweep):
    """What the Fig. 4 / Table 6 arms are matched on, as Table 6 and VERIFY say it."""
    if sweep.get("seconds") is None:
        return f"{sweep['samples_seen']} samples seen"
    return f"{sweep['seconds']:g} s wall-clock (at most {sweep['samples_seen']} samples)"


IRDM_ARMS = {**CC["arms"], **batch_arms(CC["batch_sweep"])}
FLOW_GENS = [] if CC_PAPER else [f"flow_nfe{k}" for k in CC["flow"]["nfe"]]
EXTERNAL_GENS = list(CC["external"]) if CC_PAPER else []  # scored from their own .npz sample batches
GENERATORS = ["warmstart", *FLOW_GENS, *IRDM_ARMS]


def arm_settings(arm):
    """The training config of one arm (encoders resolved, loop settings added; the class code weight beta of the
    mini joint feature, the class count and gradient scale of pMF-H)."""
    cfg = dict(IRDM_ARMS[arm])
    cfg["encoders"] = list(cfg["encoders"] or TRAIN_ENCODERS)
    if CC_PAPER:
        extra = {"n_classes": CC["n_classes"], "grad_scale": CC["grad_scale"]}
    else:
        extra = {"beta": CC["joint"]["beta"]}
    return {**cfg, **extra, "checkpoint_every": CC["checkpoint_every"], "seed": CC["seed"]}


def arm_encoders(arm):
    return arm_settings(arm)["encoders"]


# What the table and figure rules of the stage share.
CC_BATCH = [arm for arm in IRDM_ARMS if arm.startswith("batch_n")]
CC_SINGLE = [CC["table1"]["single"]] if CC["table1"]["single"] else []
CC_TABLE1 = ["real", "irdm", "warmstart", *FLOW_GENS, *EXTERNAL_GENS, *CC_SINGLE]
CC_TABLE3 = CC["table3"] if CC_PAPER else {"gated": "irdm", "uniform": "uniform"}
CC_CLASSIFIER = [] if CC_PAPER else [CC["eval"]["classifier"]]  # the held-out class-agreement scorer (mini)
CC_REPORT = {"names": config["battery"]["names"], "train_encoders": TRAIN_ENCODERS,
             "arm_encoders": {arm: arm_encoders(arm) for arm in IRDM_ARMS}}


# Replicate seeds (config `replicates`): the runs VERIFY's comparisons rest on run again at seeds s + 1, ... beside
# their primary seed s, one job each (workflow/rules/toy.smk, train.smk, t2i.smk); VERIFY reads their spread.
def replicate_seeds(seed):
    return [seed + r for r in range(1, config["replicates"])]


TOY_REPLICATED = {"distances": config["toy"]["table4"]["replicated"], "batch": config["toy"]["table4"]["batch_size"],
                  "seeds": replicate_seeds(config["toy"]["train"]["seed"])}
CC_REPLICATED = {"gens": list(CC_TABLE3.values()) if CLASSCOND and not CC_PAPER else [],  # mini arms only
                 "seeds": replicate_seeds(CC["seed"])}
REPLICATE_FILES = [
    *(f"{RES}/metrics/toy/seeds/{d}_B{TOY_REPLICATED['batch']}_seed{s}.json"
      for d in TOY_REPLICATED["distances"] for s in TOY_REPLICATED["seeds"]),
    *(f"{RES}/metrics/eval/{g}_seed{s}.json" for g in CC_REPLICATED["gens"] for s in CC_REPLICATED["seeds"]),
]


def generator_weights(gen):
    """The weights file a generator id samples from (the flow's for every NFE; none for the real images; at paper
    scale the fetched pMF-H base for the warm start and, with use_released, the released iRDM checkpoint)."""
    if gen == "real":
        return []
    if CC_PAPER and (gen == "warmstart" or (gen == "irdm" and CC["use_released"])):
        return [f"{WORK}/generators/{'base' if gen == 'warmstart' else 'released'}.pth"]
    if gen.startswith("flow_nfe"):
        return [rules.flow.output.weights]
    if gen == "warmstart":
        return [rules.warmstart.output.weights]
    return [f"{CC_DIR}/weights/{gen}.safetensors"]


def classcond_eval(gens):
    return [f"{RES}/metrics/eval/{gen}.json" for gen in gens]


# The reviewer's path (workflow/rules/report.smk): the compute table's inputs and the MANIFEST's rules.
def stage_benchmarks(wildcards):
    """The benchmark file of every benchmarked job upstream of the artifacts and VERIFY, found by walking back
    from those files through the producing rules' own input patterns (the jobs of the DAG, no others)."""
    seen, files, stack = set(), set(), [*ALL_ARTIFACT_FILES, f"{RES}/VERIFY.md"]
    while stack:
        path = str(stack.pop())
        if path in seen:
            continue
        seen.add(path)
        for producer in (r for r in workflow.rules if r.is_producer(path)):
            found = producer.get_wildcards(path)
            stack.extend(producer.expand_input(found)[0])
            if producer.benchmark:
                files.add(str(producer.expand_benchmark(found)))
    return sorted(files)


def producing_rule(path):
    return next(rule.name for rule in workflow.rules if path in rule.output)


# The mini text-to-image stage (workflow/rules/t2i.smk; t2i_paper.smk writes the same contract files at paper scale).
T2I = config["t2i"]
T2I_DIR = f"{WORK}/t2i"
T2I_MODELS = ["teacher_nfe4", "teacher_nfe1", "student_joint", "student_marginal"]
# paper scale, t2i.use_released: evaluation alone, no marginal student is released (`--config t2i='{use_released:
# true}'` passes the string "true")
T2I_RELEASED = SCALE == "paper" and str(T2I.get("use_released", False)).lower() == "true"
if T2I_RELEASED:
    T2I_MODELS.remove("student_marginal")
T2I_LAWS = ["joint", "marginal"]
# the students the text-to-image claims rest on run again at seeds t2i.seed + 1, ... (the teacher is shared)
T2I_REPLICATED = {"laws": [] if SCALE == "paper" else T2I_LAWS, "seeds": replicate_seeds(T2I["seed"])}
REPLICATE_FILES += [f"{RES}/metrics/t2i/seeds/student_{law}_seed{s}.json"
                    for law in T2I_REPLICATED["laws"] for s in T2I_REPLICATED["seeds"]]


def t2i_snapshots(law):
    """The Fig. 1 checkpoints of one student (step 0 = the untrained one-step init)."""
    steps = snapshot_steps(T2I["student"]["steps"], T2I["student"]["snapshot_every"])
    return [f"{T2I_DIR}/snapshots/student_{law}/step_{step:06d}.safetensors" for step in steps]


def t2i_weights(wildcards):
    """The weights a t2i model id samples from (the teacher's for both NFE)."""
    role = "teacher" if wildcards.t2i_model.startswith("teacher") else wildcards.t2i_model
    return f"{T2I_DIR}/weights/{role}.safetensors"


def t2i_battery():
    """The battery encoders the cell_<encoder> t2i encoders wrap."""
    return [name[len("cell_"):] for name in T2I.get("encoders", []) if name.startswith("cell_")]


# Text-to-image at paper scale: the settings and helpers of t2i_paper.smk.


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


if SCALE == "paper":
    T2P = t2p_recipe(config["t2i"]["paper"])
    T2P_DIR = f"{WORK}/t2i"
    # recipe reference teacher (geallcoco): the reference is the curated teacher renders, built by the curation
    # rules
    T2P_TEACHER_REF = T2P["reference"]["source"] == "teacher"
    T2P_KEPT_DIR = f"{T2P_DIR}/curation/coco"  # the kept COCO-caption teacher renders (PNGs), one folder per shard
    # the curation's render stages (geneval, coco, kept), each as curation.shards[stage] jobs over contiguous rows
    T2P_SHARDS = {stage: list(range(n)) for stage, n in T2P["curation"]["shards"].items()}
    T2P_CURATION_IMAGES = [f"{T2P_DIR}/geneval/curation_{k}/images" for k in T2P_SHARDS["geneval"]]
    T2P_REF_PAIRS = f"{T2P_DIR}/curation/reference.json" if T2P_TEACHER_REF else f"{T2P_DIR}/prompts/reference.json"
    T2P_PREBUILT = T2P_TEACHER_REF and str(T2P["curation"]["prebuilt"]["use"]).lower() == "true"  # --config: "true"
    if T2P_PREBUILT and not T2P["curation"]["prebuilt"]["dir"]:
        raise ConfigError("t2i.paper.curation.prebuilt.dir: null, but prebuilt.use is true: name the folder holding "
                          "the downloaded <encoder>_joint_M8192.pt bundles")
    GENEVAL_ENV = "workflow/envs/geneval.yaml"  # the scorer's own environment (the rule's conda:, from the workdir)
    # use_released: Table 2 and Fig. 1 by evaluation alone; the released joint student (the keeper step) replaces
    # training, there is no marginal student, and the curve has only its endpoints (steps, not GPU-hours)
    T2P_RELEASED = T2I_RELEASED
    if T2P_RELEASED and T2P["recipe"] != "geallcoco":
        raise ConfigError(f"t2i.use_released: the released student is the geallcoco recipe's, not t2i.paper.recipe "
                          f"{T2P['recipe']!r}")
    T2P_RELEASED_FILE = f"{T2P_DIR}/released/{os.path.basename(T2P['released']['file'])}"
    T2P_ENCODERS = T2P["reference"]["encoders"] or TRAIN_ENCODERS
    T2P_PICKSCORE_SETS = ["cocoval", "pickapic"]  # COCO-val captions (the abstract's), Pick-a-Pic test (official)
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
