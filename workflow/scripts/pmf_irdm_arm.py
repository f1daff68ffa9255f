"""One iRDM arm of pMF-H: torchrun over the job's GPUs (rdm_core.train.pmf), resuming from the arm's workdir."""

import subprocess
import sys

from rdm_core.io import write_json
from rdm_core.runlog import rule_log
from rdm_core.train.workdir import keyed_workdir

with rule_log(snakemake.log[0], threads=snakemake.threads) as log:
    p = snakemake.params
    workdir = keyed_workdir(p.workdir, p.cfg, snakemake.input)
    run = {"base": snakemake.input.base, **p.generator, "encoders": p.cfg["encoders"], "scale_dir": p.scale_dir,
           "weights_dir": p.weights_dir, "encoder_precision": p.encoder_precision, "cfg": p.cfg,
           "workdir": str(workdir),
           "weights": snakemake.output.weights, "done": snakemake.output.done,
           "made_by": {"rule": "irdm_arm", "arm": snakemake.wildcards.arm, "config": p.cfg}}
    write_json(workdir / "run.json", run)
    ranks = max(1, snakemake.resources.gpu)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}",
           "-m", "rdm_core.train.pmf", str(workdir / "run.json")]
    log.info("launching %s", " ".join(cmd))
    sys.stderr.flush()
    subprocess.run(cmd, check=True, stdout=sys.stderr, stderr=sys.stderr)  # stderr is the rule's log
