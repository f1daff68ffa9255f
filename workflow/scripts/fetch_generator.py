"""Download one released checkpoint (network needed) and check its sha256 against the config key
``params.key`` when one is given."""

import shutil
from pathlib import Path

from rdm_core.io import atomic_path
from rdm_core.representation.weights import weights_sha256
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    from huggingface_hub import hf_hub_download

    src, out = snakemake.params.source, Path(snakemake.output[0])
    cache = Path(hf_hub_download(src["repo"], src["file"]))
    digest = weights_sha256(cache)
    if src["sha256"] and digest != src["sha256"]:
        raise ValueError(f"{src['repo']}/{src['file']}: sha256 {digest} differs from the configured "
                         f"{snakemake.params.key}.sha256 {src['sha256']}")
    with atomic_path(out) as tmp:
        shutil.copyfile(cache, tmp)
    log.info("fetched %s/%s -> %s (sha256 %s%s)", src["repo"], src["file"], out, digest,
             "" if src["sha256"] else "; set it in the config to pin this file")
