"""Mini GenEval and mini PickScore of the text-to-image models (rule t2i_evaluate: one model, plus its sample
grid; t2i_evaluate_replicate: a student at a replicate seed; rule t2i_curve: every saved checkpoint of the joint
student against its training compute; rule t2i_real: the real val compositions on their own captions, the
scorers' ceiling)."""

from rdm_core.data.compose import load_compositions
from rdm_core.eval.mini_geneval import load_cell_classifier, mini_geneval
from rdm_core.eval.mini_pickscore import load_tiny_clip, pickscore
from rdm_core.generators.t2i import load_t2i, render, render_prompts, to_uint8_hwc
from rdm_core.io import read_json, save_tensors, write_json
from rdm_core.representation.text import TextTable
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p, inp = snakemake.params, snakemake.input
    prompt_file = read_json(inp.prompts)
    prompts, text = prompt_file["prompts"], TextTable(inp.text)
    detector, clip = load_cell_classifier(inp.scorer), load_tiny_clip(inp.pickscore)

    def score(net, nfe):
        images, rows = render_prompts(net, prompts, text, p.geneval["samples"], p.geneval["seed_base"], nfe)
        captions = [m["prompt"] for m in rows]
        return mini_geneval(detector, images, rows), float(pickscore(clip, images, captions).mean())

    if snakemake.rule in ("t2i_evaluate", "t2i_evaluate_replicate"):
        model, nfe = p.model, p.nfe
        net, meta = load_t2i(inp.weights)
        geneval, pick = score(net, nfe)
        write_json(snakemake.output.metrics, {"model": model, "nfe": nfe, "geneval": geneval, "pickscore": pick,
                                              "prompts": len(prompts), "samples_per_prompt": p.geneval["samples"],
                                              "scorer": "mini GenEval (held-out cell classifier), mini PickScore"})
        grid = [prompts[i]["prompt"] for i in prompt_file["grid"]]
        seeds = [prompt_file["grid_seed"] + i * 100 for i in range(len(grid))]
        images = render(net, text(grid), seeds, nfe)
        save_tensors(snakemake.output.grid, {"images": to_uint8_hwc(images)}, {"prompts": grid, "model": model,
                                                                              "nfe": nfe, "seeds": seeds})
        log.info("%s (NFE %d): GenEval %.3f, PickScore %.3f", model, nfe, geneval["overall"], pick)
    elif snakemake.rule == "t2i_curve":
        points = []
        for path in inp.snapshots:
            net, meta = load_t2i(path)
            geneval, pick = score(net, 1)
            made = meta["made_by"]
            points.append({"step": made["step"], "compute": made["compute_seconds"], "geneval": geneval["overall"],
                           "pickscore": pick})
            log.info("step %d (%.1f s): GenEval %.3f, PickScore %.3f", made["step"], made["compute_seconds"],
                     geneval["overall"], pick)
        teacher = read_json(inp.teacher)
        write_json(snakemake.output[0], {"compute_unit": "CPU-seconds", "teacher": {
            "geneval": teacher["geneval"]["overall"], "pickscore": teacher["pickscore"]}, "points": points})
    elif snakemake.rule == "t2i_real":
        images, captions, metas = load_compositions(inp.val)
        geneval = mini_geneval(detector, images, metas)
        pick = float(pickscore(clip, images, captions).mean())
        write_json(snakemake.output[0], {"model": "real_val", "nfe": None, "geneval": geneval, "pickscore": pick,
                                         "images": len(images), "scorer": "mini GenEval (held-out cell "
                                         "classifier), mini PickScore; both scorers are trained on val digits"})
        log.info("real val compositions: GenEval %.3f, PickScore %.3f", geneval["overall"], pick)
    else:
        raise ValueError(f"t2i_evaluate.py does not build '{snakemake.rule}'")
