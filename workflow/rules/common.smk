# Shared set-up: validate every config file before any job, and the path helpers the rules use.

from snakemake.exceptions import WorkflowError

from rdm_core.config import ConfigError, load_yaml, validate
from rdm_core.representation.mini import MODELS as PIPELINE_TRAINED_ENCODERS
from rdm_core.representation.spec import known_encoders

try:
    CONFIG_SOURCE = " + ".join(["config/config.yaml", *map(str, workflow.overwrite_configfiles)])
    validate(config, "config.schema.yaml", f"the configuration ({CONFIG_SOURCE}, with any --config)")
    ARTIFACTS = load_yaml("config/artifacts.yaml", "artifacts.schema.yaml")
    PAPER_NUMBERS = load_yaml("config/paper_numbers.yaml", "paper_numbers.schema.yaml")
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


def artifact_outputs(name):
    """The files of one artifact, from the artifact table."""
    return [f"{RES}/{path}" for path in ARTIFACTS[name]["outputs"]]


ALL_ARTIFACT_FILES = [path for name in ARTIFACTS for path in artifact_outputs(name)]


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
