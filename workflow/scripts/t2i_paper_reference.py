"""Joint (or image-only) Nystrom bundles of the reference pairs for every trained-against encoder."""

from rdm_core.io import load_tensors, read_json
from rdm_core.reference.joint_io import save_joint_reference
from rdm_core.runlog import job_device, rule_log
from rdm_core.train.flux2 import text_joint_bundles

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    device = job_device(p.device)
    rows = read_json(snakemake.input.pairs)["text_rows"]  # each reference row's prompt in the pool's text table
    n_ref = len(rows)
    text = load_tensors(snakemake.input.text)[0]["text"][rows]
    feats = {name: load_tensors(path)[0]["features"].to(device)
             for name, path in zip(p.encoders, snakemake.input.features)}
    ref = text_joint_bundles(feats, text.to(device), p.joint, p.cfg, p.reference, seed=p.seed)
    ref["bundles"] = {n: type(b)(Z=b.Z.cpu(), alpha=b.alpha.cpu(), sigma=b.sigma, k_rr=b.k_rr)
                      for n, b in ref["bundles"].items()}
    save_joint_reference(snakemake.output[0], ref, {"rule": "t2i_paper_reference", "arm": snakemake.wildcards.arm,
                                                    "joint": p.joint, "config": p.cfg, "pairs": n_ref})
    log.info("%s bundles for %s (sigma %s)", snakemake.wildcards.arm, p.encoders, ref["sigma"])
