"""Benchmark the evaluation SW_2 against POT on the same projections, and a cached bank vs both sides.

Prints, from one run: POT's ``ot.sliced_wasserstein_distance`` time, ours computing both sides, and
ours scoring against a cached SortedBank (plus the one-off bank build), their ratios, and the values.
Timings are noisy on a shared machine; rounds are interleaved and the best kept.

    python benchmarks/bench_sw_eval.py                # N=16384, d=1024, 1024 projections, fp32 (the paper's)
    python benchmarks/bench_sw_eval.py --small        # quick smoke run
    python benchmarks/bench_sw_eval.py --device cuda  # the same on the GPU, POT on its torch backend there
                                                      # (SW runs on fp32 features, as the official evaluation)
"""

from __future__ import annotations

import argparse
import os

import ot
import torch

from device import add_device_arg, pick_device, seconds
from rdm_core.compare import SortedBank, sw2


def timed(fn, device):
    out = []
    return seconds(lambda: out.append(float(fn())), device), out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--n-proj", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2, help="rounds (POT runs once per round)")
    parser.add_argument("--small", action="store_true", help="N=2048, d=128, 128 projections")
    add_device_arg(parser)
    args = parser.parse_args()
    device = pick_device(args)
    if args.small:
        args.n, args.d, args.n_proj = 2048, 128, 128

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.n, args.d, generator=gen).to(device)
    y = (1.1 * torch.randn(args.n, args.d, generator=gen) + 0.05).to(device)
    # POT on numpy arrays on the CPU, on torch tensors (its torch backend) on the GPU
    x_pot, y_pot = (x, y) if device.type == "cuda" else (x.numpy(), y.numpy())
    print(f"N={args.n} d={args.d} projections={args.n_proj} fp32 on {device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeats} interleaved rounds")

    build_time, bank = float("inf"), None
    best = {"POT": float("inf"), "ours, both sides": float("inf"), "ours, cached bank": float("inf")}
    values = {}
    for _ in range(args.repeats):
        built = []
        build_time = min(build_time, seconds(lambda: built.append(SortedBank.build(y, n_proj=args.n_proj)), device))
        bank = built[0]
        projections = bank.theta.T if device.type == "cuda" else bank.theta.numpy().T  # POT's (dim, n_projections)
        runs = {
            "POT": lambda: ot.sliced_wasserstein_distance(x_pot, y_pot, projections=projections, p=2),
            "ours, both sides": lambda: sw2(x, y, n_proj=args.n_proj),
            "ours, cached bank": lambda: sw2(x, bank),
        }
        for name, fn in runs.items():
            t, values[name] = timed(fn, device)
            best[name] = min(best[name], t)

    print(f"\n{'variant':22s} {'time s':>8s}  SW_2")
    for name, t in best.items():
        print(f"{name:22s} {t:8.3f}  {values[name]:.7f}")
    print(f"{'(bank build, once)':22s} {build_time:8.3f}")
    pot = values["POT"]
    print(f"\nPOT / ours both sides:          {best['POT'] / best['ours, both sides']:6.2f}x  (goal >= 8)")
    print(f"POT / ours cached bank:         {best['POT'] / best['ours, cached bank']:6.2f}x")
    print(f"both sides / cached bank:       {best['ours, both sides'] / best['ours, cached bank']:6.2f}x  (goal >= 1.6)")
    print(f"relative value difference vs POT: both sides {abs(values['ours, both sides'] - pot) / pot:.1e}, "
          f"cached {abs(values['ours, cached bank'] - pot) / pot:.1e}")


if __name__ == "__main__":
    main()
