"""Throughput of extract_features against a bare no-grad forward of the same encoder on the same batches.

    python benchmarks/bench_features.py [--encoders sup_cnn,mae_cnn,simclr,rff,effnet_lite0] [--n 2000] [--batch 500]
    python benchmarks/bench_features.py --device cuda   # paper-size encoders (timm ViT-L/14 and ConvNeXt-L at 224,
                                                        # random weights), N = 16,384 (the evaluation's), bf16

Pipeline-made encoders and --timm architectures get untrained (seeded) weights: throughput does not depend on
their values. On CUDA the bare forward reads batches already on the GPU and both run under bf16 autocast (the
paper's encoder precision there); a third column times extract_features in fp32, for the bf16 speed-up.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import timm
import torch

from device import add_device_arg, bf16, pick_device, sync
from rdm_core.representation import mini
from rdm_core.representation.encoder import build_encoder
from rdm_core.representation.features import extract_features
from rdm_core.representation.spec import get_spec

PAPER_TIMM = "vit_large_patch14_dinov2.lvd142m,convnext_large"


def best_times(fns, repeats: int, device: torch.device) -> list[float]:
    """Best wall time of each function, run interleaved so that a busy machine affects all alike."""
    best = [float("inf")] * len(fns)
    for r in range(repeats + 1):   # the first round warms up
        for i, fn in enumerate(fns):
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            if r:
                best[i] = min(best[i], time.perf_counter() - start)
    return best


def timm_encoder(name: str, size: int) -> torch.nn.Module:
    """A timm architecture with random weights and no head, at ``size`` input where it takes one."""
    torch.manual_seed(0)
    try:
        return timm.create_model(name, pretrained=False, num_classes=0, img_size=size).eval()
    except TypeError:  # convolutional nets take any size
        return timm.create_model(name, pretrained=False, num_classes=0).eval()


def encoders(args: argparse.Namespace, tmp: str):
    """(name, encoder, image shape) of every encoder asked for."""
    gray = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for name in filter(None, args.encoders.split(",")):
        weights = None
        if name in mini.MODELS:
            weights = str(Path(tmp) / f"{name}.safetensors")
            mini.save_encoder_weights(weights, name, mini.train_mini_encoder(name, gray, None, 0, steps=0))
        yield name, build_encoder(get_spec(name), weights), (1, 28, 28)
    for name in filter(None, args.timm.split(",")):
        yield name.split(".")[0], timm_encoder(name, args.size), (3, args.size, args.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", help="battery names (default: the mini battery on the CPU, none on CUDA)")
    parser.add_argument("--timm", help=f"timm architectures, random weights (default on CUDA: {PAPER_TIMM})")
    parser.add_argument("--size", type=int, default=224, help="input side of the --timm encoders")
    parser.add_argument("--n", type=int, help="images (default 2000; 16384 on CUDA)")
    parser.add_argument("--batch", type=int, help="images per batch (default 500; 256 on CUDA)")
    parser.add_argument("--repeats", type=int, help="timed rounds (default 5; 2 on CUDA)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    add_device_arg(parser)
    args = parser.parse_args()
    device = pick_device(args)
    cuda = device.type == "cuda"
    for key, cpu_default, cuda_default in (("encoders", "sup_cnn,mae_cnn,simclr,rff,effnet_lite0", ""),
                                           ("timm", "", PAPER_TIMM), ("n", 2000, 16384), ("batch", 500, 256),
                                           ("repeats", 5, 2)):
        if getattr(args, key) is None:
            setattr(args, key, cuda_default if args.cuda else cpu_default)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__} on {device}{' (bf16 autocast)' if cuda else ''}, "
          f"{torch.get_num_threads()} threads, n={args.n}, batch={args.batch}")
    print(f"{'encoder':14s} {'bare img/s':>11s} {'extract img/s':>14s} {'ratio':>6s}"
          + (f" {'fp32 img/s':>11s} {'bf16 x':>7s}" if cuda else ""))
    with tempfile.TemporaryDirectory() as tmp:
        for name, enc, shape in encoders(args, tmp):
            enc = enc.to(device)
            images = torch.rand(args.n, *shape, generator=torch.Generator().manual_seed(0))
            on_device = [chunk.to(device) for chunk in images.split(args.batch)]

            def bare():
                with torch.inference_mode(), bf16(device):
                    for chunk in on_device:
                        enc(chunk)

            def extract():
                with bf16(device):
                    extract_features(enc, images, args.batch, device)

            fns = [bare, extract] + ([lambda: extract_features(enc, images, args.batch, device)] if cuda else [])
            times = best_times(fns, args.repeats, device)
            line = f"{name:14s} {args.n / times[0]:11.0f} {args.n / times[1]:14.0f} {times[1] / times[0]:6.2f}"
            if cuda:
                line += f" {args.n / times[2]:11.0f} {times[2] / times[1]:7.2f}"
            print(line, flush=True)
            del on_device


if __name__ == "__main__":
    main()
