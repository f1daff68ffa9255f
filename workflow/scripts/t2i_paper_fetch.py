"""Download one text-to-image model's weights into resources/<scale>/weights/<model>/ (network needed)."""

from pathlib import Path

from rdm_core.io import write_json
from rdm_core.representation.text_paper import fetch_t2i_weights, t2i_model
from rdm_core.representation.weights import weights_sha256
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    model = t2i_model(snakemake.wildcards.t2i_weights)
    path = fetch_t2i_weights(model.name, Path(snakemake.output[0]).parent.parent)
    write_json(snakemake.output[0], {"model": model.name, "checkpoint": model.checkpoint, "path": str(path),
                                     "sha256": weights_sha256(path)})
    log.info("fetched %s -> %s", model.checkpoint, path)
