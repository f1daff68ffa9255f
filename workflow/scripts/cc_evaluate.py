"""SW and MMD ratios of one generator's samples against every encoder's frozen banks, and class agreement."""

from rdm_core.eval import load_battery, score_images
from rdm_core.eval.classify import class_agreement
from rdm_core.io import load_tensors, write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    tensors, meta = load_tensors(snakemake.input.samples)
    images, labels = tensors["images"], tensors["labels"]
    encoders, banks = load_battery(p.scale_dir, p.names, lambda n: load_battery_encoder(n, p.scale_dir))
    scores = score_images(images, encoders, banks, p.batch)
    classifier = encoders.get(p.classifier) or load_battery_encoder(p.classifier, p.scale_dir)[0]
    scores.update(generator=snakemake.wildcards.gen, classifier=p.classifier,
                  class_agreement=class_agreement(classifier, images, labels, p.batch))
    log.info("%s: SW_r%d %.3f, MMDr%d %.3f, class agreement %.3f", scores["generator"], scores["K"],
             scores["sw_rK"], scores["K"], scores["mmd_rK"], scores["class_agreement"])
    write_json(snakemake.output[0], scores)
