"""The ``rdm`` command line. ``rdm score SAMPLES.npz --scale mini`` prints the per-encoder SW_2 and
RFF-MMD^2 ratios of a sample batch, SW_rK and MMDrK, against the scale's frozen reference banks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .data.npz import NpzBatchError
from .eval import TooFewSamplesError, score_npz, score_table
from .io import CacheError, write_json
from .reference.cache import load_battery_encoder

SCALES = {"mini": "mini", "smoke": "mini", "paper": "paper"}  # scale -> battery


class UsageError(ValueError):
    """A bad command line argument found after parsing."""


def scale_battery(scale: str) -> list[str]:
    """The battery of a scale, in table column order (importing it registers its encoder specs)."""
    if SCALES[scale] == "paper":
        from .representation.paper import PANEL

        return list(PANEL)
    from .representation.mini import MINI_BATTERY

    return list(MINI_BATTERY)


def _score(args: argparse.Namespace) -> int:
    battery = scale_battery(args.scale)
    names = args.battery or battery
    unknown = [n for n in names if n not in battery]
    if unknown:
        raise UsageError(f"unknown encoder(s) {', '.join(unknown)} for scale '{args.scale}'; "
                         f"its battery: {', '.join(battery)}")
    scale_dir = Path(args.resources) / args.scale
    try:
        result = score_npz(args.samples, scale_dir, names,
                           lambda name: load_battery_encoder(name, scale_dir, args.weights_dir), args.batch,
                           args.allow_fewer_samples)
    except TooFewSamplesError as err:
        raise UsageError(f"{args.samples}: {err.n_generated} samples, fewer than the {err.n_bank} rows of the "
                         f"evaluation banks; a score at {err.n_generated} rows is not comparable with scores at "
                         f"{err.n_bank} (the floor changes with the set size): pass --allow-fewer-samples to score "
                         "it anyway") from None
    n, n_bank = result["n_generated"], result["n_bank"]
    at = f"   (at {n} samples, not {n_bank}: not comparable with scores at {n_bank})" if n < n_bank else ""
    if at:
        print(f"rdm score: warning: {args.samples} has {n} samples, fewer than the {n_bank} rows of the banks; "
              f"every set is truncated to {n} rows", file=sys.stderr)
    heldout = result["heldout"]
    sw = score_table({"SW_2 ratio": result["sw_ratios"]}, names, heldout, "SW_r")
    mmd = score_table({"MMD ratio": result["mmd_ratios"]}, names, heldout, "MMDr")
    per_encoder = pd.concat([sw.iloc[:, :-1], mmd.iloc[:, :-1]]).T
    print(f"{args.samples}: {result['n_generated']} samples, {result['K']} encoders (* held out)")
    print(per_encoder.to_string(float_format=lambda v: f"{v:.3f}"))
    for table, key in ((sw, "sw_rK_heldout"), (mmd, "mmd_rK_heldout")):
        extra = f"   (held-out mean {result[key]:.3f})" if result[key] is not None else ""
        print(f"{table.columns[-1]} = {table.iloc[0, -1]:.3f}{extra}{at}")
    if args.json:
        write_json(args.json, result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rdm", description="iRDM reproduction tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    score = sub.add_parser("score", help="score an ADM-style .npz sample batch (SW_rK and MMDrK)")
    score.add_argument("samples", help=".npz with arr_0 uint8 images [N, H, W, C] (C = 1 or 3)")
    score.add_argument("--scale", choices=sorted(SCALES), default="mini")
    score.add_argument("--resources", default="resources",
                       help="folder holding <scale>/reference/<encoder>/ and <scale>/encoders/ (default: resources)")
    score.add_argument("--battery", nargs="+", metavar="ENCODER", help="encoders to score with (default: the scale's)")
    score.add_argument("--weights-dir", help="pretrained weights of the paper panel (default: <resources>/<scale>/weights)")
    score.add_argument("--batch", type=int, default=500, help="images per encoder forward pass")
    score.add_argument("--json", help="also write the scores to this JSON file")
    score.add_argument("--allow-fewer-samples", action="store_true",
                       help="score a batch smaller than the banks (every set truncated to its size; the scores are "
                            "then not comparable with scores at the banks' size)")
    score.set_defaults(func=_score)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, NpzBatchError, CacheError, FileNotFoundError) as err:
        print(f"rdm {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
