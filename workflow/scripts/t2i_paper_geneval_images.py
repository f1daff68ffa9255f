"""GenEval renders of one model: 553 prompts x 4 samples, per-sample seeds (each sample's generator on the job's
device, CUDA as the official harness; CPU only as a fallback), in the official scorer's layout. With noise
"render": the teacher renders of the geALLcoco curation (the official render driver's seeds), `shard` of
`shards`: the prompts of that shard only, in the same layout (global prompt folders)."""

from rdm_core.eval.geneval import render_prompts
from rdm_core.eval.pickscore import to_uint8
from rdm_core.generators.flux2 import ContextTable, build_flux2, render
from rdm_core.io import read_json
from rdm_core.reference.curation import render_seed, shard_rows
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    generator = build_flux2(resolve_t2i_weights("flux2_klein", p.weights_dir), p.nfe,
                            snakemake.input.get("student"), device)
    contexts = ContextTable(snakemake.input.ctx)
    rows = read_json(snakemake.input.prompts)["rows"]
    if device == "cpu":
        log.warning("noise drawn on the CPU (no CUDA): the official harness draws it on the GPU, other images")

    def images(idx, seeds):
        return to_uint8(render(generator, contexts, idx, seeds, p.resolution, device, p.batch))

    n = render_prompts(snakemake.output[0], rows, images, n_samples=p.samples, seed_base=p.seed_base, log=log.info,
                       seed=render_seed if p.noise == "render" else None,
                       prompts=shard_rows(len(rows), p.shards, p.shard))
    log.info("%s: %d prompts rendered at %d NFE (shard %d of %d)", snakemake.output[0], n, p.nfe, p.shard, p.shards)
