"""Nystrom bundles of the real train image-caption pairs per encoder: joint [phi | beta tau] and marginal phi."""

from rdm_core.data.compose import load_compositions
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.reference.joint_io import save_joint_reference
from rdm_core.representation.features import extract_features
from rdm_core.representation.t2i import load_t2i_encoders
from rdm_core.representation.text import TextTable
from rdm_core.runlog import rule_log
from rdm_core.train.t2i import text_bundles

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    images, captions, _ = load_compositions(snakemake.input.train)
    tau = TextTable(snakemake.input.text)(captions)
    encoders = load_t2i_encoders(p.names, snakemake.input.encoders, lambda n: load_battery_encoder(n, p.scale_dir)[0])
    feats = {name: extract_features(enc, images) for name, enc in encoders.items()}
    for law, path in zip(("joint", "marginal"), snakemake.output):
        ref = text_bundles(feats, tau, law == "joint", p.joint, p.reference, p.seed)
        for name in p.names:
            log.info("%s %s: sigma %.4g, beta %.4g (s_txt %.4g)", law, name, ref["sigma"][name], ref["beta"][name],
                     ref["s_txt"])
        save_joint_reference(path, {**ref, "floors": {}, "cross_class_factor": None},
                             {"law": law, "joint": p.joint, "reference": p.reference, "seed": p.seed,
                              "s_txt": ref["s_txt"]})
