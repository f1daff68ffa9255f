"""Fig. 1c data: GenEval and PickScore of each saved joint-student checkpoint against post-training GPU-hours
(without a training run, i.e. the released student: against post-training steps)."""

from rdm_core.io import read_json, write_json
from rdm_core.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    compute = read_json(snakemake.input.compute) if snakemake.input.compute else None
    teacher = read_json(snakemake.input.teacher)
    points = []
    for step, path in zip(snakemake.params.steps, snakemake.input.points):
        m = read_json(path)
        used = (compute["gpu_hours"][str(step)] if step else 0.0) if compute else float(step)
        points.append({"step": step, "compute": used,
                       "geneval": m["geneval"]["overall"], "pickscore": m["pickscore"]})
    write_json(snakemake.output[0], {"compute_unit": compute["unit"] if compute else "post-training steps",
                                     "teacher": {"geneval": teacher["geneval"]["overall"],
                                                 "pickscore": teacher["pickscore"]},
                                     "points": points})
    log.info("%d curve points", len(points))
