"""SW and MMD ratios of one generator's samples against every encoder's frozen banks, and, where the scale has a
held-out classifier (mini), class agreement. Samples: the stage's safetensors or an ADM-style .npz batch."""

from rdm_core.data.npz import load_npz_batch
from rdm_core.eval import load_battery, score_images
from rdm_core.eval.classify import class_agreement
from rdm_core.io import load_tensors, write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.runlog import job_device, rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, path = snakemake.params, snakemake.input.samples
    if path.endswith(".npz"):
        images, labels = load_npz_batch(path)
    else:
        tensors, _ = load_tensors(path)
        images, labels = tensors["images"], tensors["labels"]
    load = lambda n: load_battery_encoder(n, p.scale_dir, precision=p.precision)  # noqa: E731
    encoders, banks = load_battery(p.scale_dir, p.names, load)
    scores = score_images(images, encoders, banks, p.batch, device=job_device(p.device))
    scores["generator"] = snakemake.wildcards.gen
    if p.classifier is not None:
        classifier = encoders.get(p.classifier) or load(p.classifier)[0]
        scores.update(classifier=p.classifier, class_agreement=class_agreement(classifier, images, labels, p.batch))
    log.info("%s: SW_r%d %.3f, MMDr%d %.3f%s", scores["generator"], scores["K"], scores["sw_rK"], scores["K"],
             scores["mmd_rK"], f", class agreement {scores['class_agreement']:.3f}" if p.classifier else "")
    write_json(snakemake.output[0], scores)
