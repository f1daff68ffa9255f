"""The benchmarks' --device: the CPU by default; cuda[:i] runs the paper's sizes on the GPU, the encoders under
bf16 autocast (the CPU, with a warning, where there is no CUDA)."""

from __future__ import annotations

import argparse
import contextlib
import time

import torch

from rdm_core.runlog import job_device


def add_device_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu",
                        help="cpu (default) or cuda[:i]: the paper's sizes on the GPU, encoders in bf16")


def pick_device(args: argparse.Namespace) -> torch.device:
    """The device asked for, or the CPU where CUDA is asked for and missing; ``args.cuda`` says which was asked."""
    args.cuda = args.device.startswith("cuda")
    return torch.device(job_device(args.device))


def sync(device: torch.device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds(fn, device: torch.device) -> float:
    """Wall time of ``fn()``, queued device work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def bf16(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (the encoders' precision there); no-op on the CPU."""
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16)
