"""The authors' prebuilt geALLcoco joint bundles (t2i.paper.curation.prebuilt), each checked against its pinned
sha256, as the joint reference file ({Z, alpha, sigma, k_rr, beta} per encoder, the official bundle fields)."""

import torch

from rdm_core.compare.mmd import NystromBundle
from rdm_core.io import file_sha256
from rdm_core.reference.joint_io import save_joint_reference
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    p = snakemake.params
    bundles, sigma, beta = {}, {}, {}
    for name, path in zip(p.encoders, snakemake.input.bundles):
        digest, want = file_sha256(path), p.sha256.get(name)
        if want is None:
            raise ValueError(f"config key 't2i.paper.curation.prebuilt.sha256.{name}' is null: {path} has sha256 "
                             f"{digest}; check the file (docs/flux_geall_assets.md, 'Verifying a transferred copy') and "
                             "pin it there")
        if digest != want:
            raise ValueError(f"{path}: sha256 {digest}, not the pinned {want} (t2i.paper.curation.prebuilt.sha256.{name})")
        b = torch.load(path, map_location="cpu", weights_only=True)
        if b["Z"].shape[0] != p.landmarks:
            raise ValueError(f"{path}: {b['Z'].shape[0]} landmarks, the recipe's M is {p.landmarks}")
        bundles[name] = NystromBundle(Z=b["Z"].float(), alpha=b["alpha"].float(), sigma=float(b["sigma"]),
                                      k_rr=float(b["k_rr"]))
        sigma[name], beta[name] = float(b["sigma"]), float(b["beta"])
    save_joint_reference(snakemake.output[0], {"bundles": bundles, "sigma": sigma, "beta": beta, "floors": {},
                                               "cross_class_factor": None},
                         {"rule": "t2i_paper_prebuilt", "arm": "joint", "joint": True, "source": p.repo,
                          "sha256": {n: p.sha256[n] for n in p.encoders}})
    log.info("prebuilt joint bundles of %s from %s (sigma %s)", p.encoders, p.repo, sigma)
