"""Post-train the FLUX.2 [klein] student (run by torchrun inside one job: `t2i_paper_train.py <spec JSON>`).

Trains segment by segment to each saved step (resuming from the latest checkpoint of the keyed work folder),
rank 0 exporting the transformer weights after each; compute.json records the GPU-hours at each saved step.
"""

import json
import sys

import torch
import torch.distributed as dist

from rdm_core.generators.flux2 import ContextTable, build_flux2, save_student
from rdm_core.io import load_tensors, read_json, write_json
from rdm_core.reference.cache import load_battery_encoder
from rdm_core.reference.joint_io import load_joint_reference
from rdm_core.representation.text_paper import resolve_t2i_weights
from rdm_core.runlog import rule_log
from rdm_core.train.distributed import init_from_env
from rdm_core.train.flux2 import bundle_to, train_flux2
from rdm_core.train.workdir import keyed_workdir

spec = json.loads(sys.argv[1])
rank, world, device = init_from_env()
log_path = spec["log"] if rank == 0 else f"{spec['log']}.rank{rank}"
with rule_log(log_path) as log:
    cfg, inp = spec["cfg"], spec["input"]
    generator = build_flux2(resolve_t2i_weights("flux2_klein", spec["weights_dir"]), steps=1, device=device,
                            trainable=True)
    ref = load_joint_reference(inp["reference"], spec["encoders"])
    bundles = {n: bundle_to(b, device) for n, b in ref["bundles"].items()}
    precision = spec["precision"]  # battery.precision
    encoders = {name: load_battery_encoder(name, spec["scale_dir"], spec["battery_weights_dir"], precision)[0].to(device)
                for name in spec["encoders"]}
    pool = read_json(inp["pool"])
    text = load_tensors(inp["text"])[0]["text"]
    contexts = ContextTable(inp["ctx"])
    workdir = keyed_workdir(spec["workdir"], cfg, inp.values())
    shape = generator.noise_shape(spec["resolution"], spec["resolution"])
    for step, path in zip(spec["saved"], spec["output"]["weights"]):
        train_flux2(generator, encoders, bundles, contexts, text, {**cfg, "steps": step}, workdir, shape, device,
                    log.info, pool=torch.tensor(pool["rows"]))
        if rank == 0:
            save_student(path, generator.transformer, {"rule": "t2i_paper_train", "arm": spec["arm"], "step": step,
                                                       "config": cfg})
            log.info("step %d: saved %s", step, path)
        if world > 1:
            dist.barrier()  # rank 0 has finished writing before any rank opens the next segment
    if rank == 0:
        seconds = [json.loads(line)["seconds"] for line in open(workdir / "metrics.jsonl")]
        write_json(spec["output"]["compute"], {
            "unit": "GPU-hours", "gpus": world, "arm": spec["arm"],
            "gpu_hours": {str(s): world * sum(seconds[:s]) / 3600 for s in spec["saved"]}})
    if world > 1:
        dist.destroy_process_group()
