"""Joint Nystrom bundles and PID floors over [phi | beta * onehot(y)] for the trained-against encoders, at the
bandwidths of their own references."""

from rdm_core.data.mnist import load_split
from rdm_core.io import load_tensors, read_json
from rdm_core.reference.joint_io import save_joint_reference
from rdm_core.runlog import rule_log
from rdm_core.train.experiment import joint_bundles

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    _, train_y = load_split(snakemake.input.data, "train")
    _, val_y = load_split(snakemake.input.data, "val")
    train, val, shas = {}, {}, {}
    for name, tr, va in zip(p.encoders, snakemake.input.train, snakemake.input.val):
        (t, meta), (v, _) = load_tensors(tr), load_tensors(va)
        train[name], val[name], shas[name] = t["features"], v["features"], meta["weights_sha256"]
    sigmas = {name: read_json(path)["sigma"] for name, path in zip(p.encoders, snakemake.input.floors)}
    joint = joint_bundles(train, train_y, val, val_y, sigmas, p.joint, p.reference, p.n_classes, p.seed)
    for name in p.encoders:
        log.info("%s: sigma %.4g, floor %.4g", name, joint["sigma"][name], joint["floors"][name])
    save_joint_reference(snakemake.output[0], joint, {"joint": p.joint, "reference": p.reference, "seed": p.seed,
                                                      "weights_sha256": shas})
