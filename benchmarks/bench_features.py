"""Throughput of extract_features against one bare no-grad forward of the same encoder on the same batch.

    python benchmarks/bench_features.py [--encoders sup_cnn,mae_cnn,simclr,rff,effnet_lite0] [--n 2000] [--batch 500]

Pipeline-made encoders get untrained (seeded) weights: throughput does not depend on their values.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from rdm_core.representation import mini
from rdm_core.representation.encoder import build_encoder
from rdm_core.representation.features import extract_features
from rdm_core.representation.spec import get_spec


def best_times(fns, repeats: int) -> list[float]:
    """Best wall time of each function, run interleaved so that a busy machine affects all alike."""
    best = [float("inf")] * len(fns)
    for r in range(repeats + 1):   # the first round warms up
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            if r:
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="sup_cnn,mae_cnn,simclr,rff,effnet_lite0")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = torch.rand(args.n, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, n={args.n}, batch={args.batch}")
    print(f"{'encoder':14s} {'bare img/s':>11s} {'extract img/s':>14s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.encoders.split(","):
            weights = None
            if name in mini.MODELS:
                weights = str(Path(tmp) / f"{name}.safetensors")
                mini.save_encoder_weights(weights, name, mini.train_mini_encoder(name, images, None, 0, steps=0))
            enc = build_encoder(get_spec(name), weights)

            def bare():
                with torch.inference_mode():
                    enc(images)

            t_bare, t_extract = best_times([bare, lambda: extract_features(enc, images, args.batch)], args.repeats)
            print(f"{name:14s} {args.n / t_bare:11.0f} {args.n / t_extract:14.0f} {t_extract / t_bare:6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
