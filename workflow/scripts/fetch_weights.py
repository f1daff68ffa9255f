"""Download one pretrained encoder's weights into resources/<scale>/weights/<encoder>/ (network needed)."""

from pathlib import Path

from rdm_core.io import write_json
from rdm_core.representation.spec import get_spec
from rdm_core.representation.weights import fetch_weights, weights_sha256
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    spec = get_spec(snakemake.wildcards.encoder)
    path = fetch_weights(spec, Path(snakemake.output[0]).parent.parent)
    write_json(snakemake.output[0], {"encoder": spec.name, "checkpoint": spec.checkpoint, "path": str(path),
                                     "sha256": weights_sha256(path)})
    log.info("fetched %s -> %s", spec.checkpoint, path)
