"""MANIFEST.tsv and results/README.md: what each file under results/<scale>/ is, and what made it.

A MANIFEST row names one file, its sha256, the rule that wrote it, a hash of the config keys its artifact
lists in config/artifacts.yaml (resolved from the run's config) and the code commit of the run.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from ..io import file_sha256

MANIFEST_COLUMNS = ["file", "artifact", "rule", "sha256", "config_keys", "config_hash", "commit"]


def config_value(config: Mapping, key: str) -> Any:
    """The value of a dotted config key (``toy.fig3`` is ``config["toy"]["fig3"]``)."""
    node: Any = config
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(f"config key '{key}': no '{part}' under '{'.'.join(key.split('.')[:i]) or '<top level>'}'")
        node = node[part]
    return node


def config_values(config: Mapping, keys: Sequence[str]) -> dict[str, Any]:
    return {key: config_value(config, key) for key in keys}


def config_hash(values: Mapping[str, Any]) -> str:
    """sha256 (first 16 hex digits) of the canonical JSON of {key: value}; the same settings give the same hash
    whatever the order of the keys or of the config file."""
    text = json.dumps(dict(values), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def git_commit(cwd: str | Path = ".") -> str:
    """The commit checked out in ``cwd`` (the code that ran), or "unknown" outside a git work tree."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def manifest_table(results: str | Path, entries: Sequence[Mapping], commit: str) -> pd.DataFrame:
    """One row per file. ``entries``: dicts with ``artifact``, ``rule``, ``files`` (paths under ``results``) and
    ``config`` ({key: resolved value}; empty for files no config key sets)."""
    results = Path(results)
    rows = []
    for entry in entries:
        keys = list(entry["config"])
        digest = config_hash(entry["config"]) if keys else "-"
        for name in entry["files"]:
            path = results / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: listed for the MANIFEST ({entry['artifact']}) but not written")
            rows.append({"file": name, "artifact": entry["artifact"], "rule": entry["rule"], "sha256": file_sha256(path),
                         "config_keys": ",".join(keys) or "-", "config_hash": digest, "commit": commit})
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)


# --------------------------------------------------------------------------------------- results/README.md
# Files under results/<scale>/ that are not artifact outputs, as (glob pattern, what it is); artifact files are
# listed from config/artifacts.yaml.
OTHER_FILES = [
    ("VERIFY.md", "Start here. Every claim of the paper that this scale tests, marked holds / fails / n/a, with "
                  "the evidence, and our numbers beside the published ones with tolerances (rule `verify`)."),
    ("report.html", "The self-contained HTML report, built after a run by `snakemake --report "
                    "results/<scale>/report.html`: every table and figure below with its caption, the config keys "
                    "that set it, run times and the workflow graph. Open it in a browser."),
    ("MANIFEST.tsv", "One row per file of this folder that a rule wrote for an artifact: its sha256, the rule, "
                     "the config keys its artifact lists with a hash of their values, and the code commit of the "
                     "run (rule `manifest`). Check a file with `sha256sum`."),
    ("tables/compute.csv", "Compute per stage from the rules' benchmark files: jobs, summed wall time and the "
                           "largest peak memory (max RSS) of one job (rule `compute`)."),
    ("tables/compute.md", "The same compute table as Markdown."),
    ("metrics/toy/*_B*.json", "One spiral cell (`<distance>_B<batch>.json`): recall, medDist, iterations and "
                              "timing of one toy run, shared by every artifact that uses the cell."),
    ("metrics/toy/real_floor.json", "The spiral's real-data floor: recall and medDist of a fresh draw of real "
                                    "points."),
    ("metrics/eval/probes.json", "Probes of the metric: per-encoder SW ratios and SW_rK of fresh real digits, "
                                 "the same blurred, and uniform noise (Table 5's last columns)."),
    ("metrics/eval/preference.json", "Matched-pair preference records of iRDM against each opponent (Figure 6)."),
    ("metrics/eval/*.json", "The evaluation of one generator's fixed-seed samples (`<generator>.json`): "
                            "per-encoder SW and MMD ratios, SW_rK, MMDrK and class agreement."),
    ("metrics/t2i/curve.json", "The text-to-image student's GenEval and PickScore over post-training steps against "
                               "compute (Figure 1's curve)."),
    ("metrics/t2i/*.json", "The text-to-image evaluation of one model (`<model>.json`: the teacher at each NFE, the "
                           "joint and marginal students): GenEval overall and per task, and PickScore (Table 2)."),
]


def _files_cell(outputs: Sequence[str]) -> str:
    return "<br>".join(f"`{path}`" for path in outputs)


def results_readme(artifacts: Mapping[str, Mapping]) -> str:
    """results/README.md: every file a reviewer meets under results/<scale>/, from the artifact table."""
    lines = [
        "# What is in `results/`",
        "",
        "Generated by the `results_readme` rule from `config/artifacts.yaml`; do not edit. One folder per scale:",
        "`results/mini/` (committed; regenerated by `snakemake --cores all reproduce_all`), `results/smoke/` (the",
        "tests' scale, not committed) and `results/paper/` (the paper scale on a cluster). Every number in these",
        "files comes from a rule; the published numbers live only in `config/paper_numbers.yaml`.",
        "",
        "Read `VERIFY.md` first, then the report. To regenerate one artifact run `snakemake --cores all <target>`;",
        "its caption in `config/artifacts.yaml` says what it shows and which config keys set it.",
        "",
        "## The reviewer's path",
        "",
        "| file | what it is |",
        "|---|---|",
        *(f"| `{pattern}` | {text} |" for pattern, text in OTHER_FILES if not pattern.startswith("metrics/")),
        "",
        "## Tables and figures (one target each)",
        "",
        "Figures come as PNG and PDF; tables as CSV (exact values), Markdown and, for the paper's tables, LaTeX.",
        "",
        "| target | paper | files | what it shows | config keys |",
        "|---|---|---|---|---|",
    ]
    for name, row in artifacts.items():
        scales = f" Scales: {', '.join(row['scales'])}." if "scales" in row else ""
        caption = " ".join(row["caption"].split()).replace("|", "\\|")
        keys = ", ".join(f"`{k}`" for k in row["config"])
        lines.append(f"| `{name}` | {row['paper']} | {_files_cell(row['outputs'])} | **{row['title']}.** "
                     f"{caption}{scales} | {keys} |")
    lines += [
        "",
        "## Metrics (JSON read by the tables, figures and VERIFY)",
        "",
        "| file | what it is |",
        "|---|---|",
        *(f"| `{pattern}` | {text} |" for pattern, text in OTHER_FILES if pattern.startswith("metrics/")),
        "",
        "Large intermediates (features, reference bundles, checkpoints, samples), the logs of every job and the",
        "benchmark files live under `resources/<scale>/`, which is not committed.",
        "",
    ]
    return "\n".join(lines)


def explained_patterns(artifacts: Mapping[str, Mapping]) -> list[str]:
    """Every path or glob pattern under results/<scale>/ that results/README.md explains."""
    return [*(p for row in artifacts.values() for p in row["outputs"]), *(p for p, _ in OTHER_FILES)]
