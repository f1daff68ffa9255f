"""The compute table: wall time and peak memory per stage, from the rules' benchmark files.

A benchmark file is the TSV Snakemake writes for one job (columns ``s`` = wall seconds, ``max_rss`` = peak
resident memory in MB, one row per repeat). Its stage is the first folder under the benchmarks root
(``benchmarks/toy/sw_B8.tsv`` is stage ``toy``). Its ``cpu_time`` is left out: Snakemake samples it while the job
runs (every second, then every 30 s), so it misses the job's last stretch; on 2 fully busy cores it summed to
0.6-0.9 of the wall time while /proc/stat showed no idle CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

COLUMNS = {"s": "wall time (s)", "max_rss": "max RSS (MB)"}


def read_benchmark(path: str | Path) -> pd.Series:
    """One job's wall time and peak memory (the mean over repeats; NA where not measured)."""
    df = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing or df.empty:
        raise ValueError(f"{path}: not a Snakemake benchmark file (missing {missing or 'rows'})")
    return df[list(COLUMNS)].apply(pd.to_numeric, errors="coerce").mean()


def stage_of(path: str | Path, root: str | Path) -> str:
    rel = Path(path).relative_to(root)
    if len(rel.parts) < 2:
        raise ValueError(f"{path}: benchmark files sit in a stage folder under {root}")
    return rel.parts[0]


def compute_table(paths: Sequence[str | Path], root: str | Path) -> pd.DataFrame:
    """Per stage: jobs, summed wall time and the largest peak memory of one job; a last row sums every stage.
    Stages in order of first appearance."""
    if not paths:
        raise ValueError("no benchmark files to aggregate")
    jobs = pd.DataFrame([read_benchmark(p) for p in paths])
    jobs.insert(0, "stage", [stage_of(p, root) for p in paths])
    agg = jobs.groupby("stage", sort=False).agg(jobs=("s", "size"), wall=("s", "sum"), rss=("max_rss", "max"))
    total = pd.DataFrame({"jobs": [agg["jobs"].sum()], "wall": [agg["wall"].sum()], "rss": [agg["rss"].max()]},
                         index=["total"])
    table = pd.concat([agg, total]).rename(columns={"wall": COLUMNS["s"], "rss": COLUMNS["max_rss"]})
    return table.rename_axis("stage").reset_index()
