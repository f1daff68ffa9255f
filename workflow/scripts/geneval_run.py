"""The GenEval scoring job's entry point, run by the Python of the scorer's own environment (standard library
only): refuse any other environment, naming the env file; resolve ``mmdet:<path>`` to the mmdet package's
builtin config; then run the official scorer.

Usage: python geneval_run.py <env file> <scorer arguments...>
"""

import os
import re
import sys
from importlib import metadata
from pathlib import Path

env, argv = sys.argv[1], sys.argv[2:]
pins = dict(re.findall(r"^\s*-\s*([A-Za-z0-9_.-]+)==([^\s#]+)", Path(env).read_text(), re.M))
wrong = []
for name, want in pins.items():
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = "missing"
    if have != want:
        wrong.append(f"{name} {have} (pinned {want})")
if wrong:
    sys.exit(f"GenEval scoring runs in its own environment {env}, not in {sys.prefix}: {'; '.join(wrong)}. "
             f"Run snakemake with --use-conda (--software-deployment-method conda), which creates {env}.")
print(f"GenEval environment {env}: {len(pins)} pins match ({sys.prefix})", flush=True)
if not Path(argv[0]).is_file():
    sys.exit(f"config key 't2i.paper.geneval.root': no scorer {argv[0]}; clone djghosh13/geneval there")
if any(a.startswith("mmdet:") for a in argv):
    import mmdet

    configs = Path(mmdet.__file__).parent / ".mim" / "configs"
    argv = [str(configs / a.removeprefix("mmdet:")) if a.startswith("mmdet:") else a for a in argv]
os.execv(sys.executable, [sys.executable, *argv])
