"""16,384 one-step pMF-H renders (uniform random labels from the eval seed; SPEC 2.2) or the first real val
images, written as an ADM-style .npz batch."""

import torch

from rdm_core.data.npz import save_npz_batch, to_pixels
from rdm_core.data.sources import real_split
from rdm_core.generators.pmf import load_configured_pmf, render
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, gen = snakemake.params, snakemake.wildcards.gen
    if gen == "real":
        batches, pixels, n = real_split(p.data, "val").batches(p.batch), [], 0
        while n < p.n:
            pixels.append(to_pixels(next(batches)))
            n += len(pixels[-1])
        save_npz_batch(snakemake.output[0], torch.cat(pixels)[:p.n])
    else:
        model = load_configured_pmf(snakemake.input.weights[0], p.generator).to(p.device).eval()
        labels = torch.randint(p.n_classes, (p.n,), generator=torch.Generator().manual_seed(p.seed))
        save_npz_batch(snakemake.output[0], render(model, labels, p.seed, p.batch, p.device), labels)
    log.info("%s: %d samples -> %s", gen, p.n, snakemake.output[0])
