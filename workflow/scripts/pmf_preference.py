"""Fig. 6 at paper scale: PickScore win rates of the player against each opponent on matched noise and classes."""

import torch
from torchvision.models import ResNet50_Weights

from rdm_core.eval.pickscore import load_pickscore
from rdm_core.eval.preference import head_to_heads
from rdm_core.generators.pmf import load_configured_pmf, render
from rdm_core.io import write_json
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    names = ResNet50_Weights.IMAGENET1K_V2.meta["categories"]  # the torchvision ImageNet class names
    labels = torch.randint(p.n_classes, (p.n,), generator=torch.Generator().manual_seed(p.seed))
    prompts = [f"a photo of a {names[int(y)]}" for y in labels]
    scorer = load_pickscore(resolve_t2i_weights("pickscore", p.weights_dir),
                            resolve_t2i_weights("pickscore_processor", p.weights_dir), p.device)
    scores = {}
    for gen in (p.player, *p.opponents):
        model = load_configured_pmf(snakemake.input[gen], p.generator).to(p.device).eval()
        pixels = render(model, labels, p.seed, p.batch, p.device).numpy()
        scores[gen] = torch.cat([scorer.score(pixels[i:i + p.batch], prompts[i:i + p.batch])
                                 for i in range(0, len(prompts), p.batch)])
        log.info("%s: mean PickScore %.3f", gen, float(scores[gen].mean()))
        del model
    records = head_to_heads(scores, [(p.player, o) for o in p.opponents])
    for r in records:
        log.info("%s vs %s: %.3f", r["player"], r["opponent"], r["win_rate"])
    write_json(snakemake.output[0], {"scorer": "PickScore_v1", "records": records})
