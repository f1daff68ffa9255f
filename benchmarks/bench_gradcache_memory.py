"""Peak memory of one GradCache step vs one unchunked step at the same rollout size N.

Each configuration runs in a fresh subprocess; its peak memory above the level reached after set-up and a
tiny warm-up step is reported (on the CPU the resident memory from getrusage, on CUDA the allocator's peak).
The GradCache step should grow with the chunk, the unchunked one with N.

    python benchmarks/bench_gradcache_memory.py [--small]
    python benchmarks/bench_gradcache_memory.py --device cuda   # N up to the paper's 5120, under bf16 autocast
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys

from device import add_device_arg, pick_device

Z_DIM, WIDTH, SIDE = 16, 32, 16


def _peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def measure(mode: str, n: int, chunk: int, device_name: str) -> dict:
    """Run one step of ``mode`` (full | gradcache) on a rollout of n samples; return its peak memory. On CUDA
    the generator and encoders run under bf16 autocast (the paper's precision there), the loss in fp32."""
    import torch
    from torch import nn

    from device import bf16
    from rdm_core.train import UniformWeights, battery_loss_fn, full_batch_step, gradcache_step

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(  # a one-step generator whose activations dominate memory: ~0.5 MB per sample
        nn.Linear(Z_DIM, WIDTH * SIDE * SIDE), nn.Unflatten(1, (WIDTH, SIDE, SIDE)),
        nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.GELU(), nn.Conv2d(WIDTH, WIDTH, 3, padding=1), nn.GELU(),
        nn.Upsample(scale_factor=2), nn.Conv2d(WIDTH, 3, 3, padding=1), nn.Sigmoid())
    encoders = {}
    for name in ("a", "b"):
        enc = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.GELU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        encoders[name] = enc.requires_grad_(False)
    device = torch.device(device_name)
    model.to(device)
    for enc in encoders.values():
        enc.to(device)
    refs = {name: torch.randn(256, 8, device=device) * 0.1 for name in encoders}

    def exact_mmd(g, ref):
        g = g.float()
        k = lambda a, b: torch.exp(-0.5 * torch.cdist(a, b) ** 2 / 0.1 ** 2)  # noqa: E731
        return k(g, g).mean() - 2 * k(g, ref).mean() + k(ref, ref).mean()

    loss = battery_loss_fn(refs, exact_mmd, UniformWeights(list(encoders)))
    step = {"full": full_batch_step, "gradcache": gradcache_step}[mode]
    z = torch.randn(n, Z_DIM).to(device)
    with bf16(device):
        step(model, list(z[:2].split(1)), encoders, loss)  # warm-up: library and allocator set-up
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device) / 2 ** 20 if device.type == "cuda" else _peak_mb(device)
        value, _ = step(model, list(z.split(chunk)), encoders, loss)
    return {"mode": mode, "n": n, "chunk": chunk, "peak_mb": _peak_mb(device) - base, "loss": value.item()}


def run_isolated(mode: str, n: int, chunk: int, device) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", mode, str(n), str(chunk), str(device)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="smaller rollouts, for a quick check")
    add_device_arg(parser)
    parser.add_argument("--measure", nargs=4, metavar=("MODE", "N", "CHUNK", "DEVICE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        mode, n, chunk, device = args.measure
        print(json.dumps(measure(mode, int(n), int(chunk), device)))
        return
    device = pick_device(args)
    if args.small:
        sizes, chunk, chunk_sweep = [128, 256, 512], 32, [16, 64]
    elif args.cuda:
        sizes, chunk, chunk_sweep = [1280, 2560, 5120], 64, [32, 128]  # up to the paper's rollout N = 5120
    else:
        sizes, chunk, chunk_sweep = [256, 512, 1024], 64, [32, 128]
    # Under bf16 GradCache is exact only to first order (SPEC 1.3): the two losses agree to bf16 rounding.
    tol = 2e-2 if device.type == "cuda" else 1e-5
    print(f"peak memory above set-up (MiB), one step on {device}"
          f"{' (bf16 autocast)' if device.type == 'cuda' else ''}; gradcache chunk = {chunk}")
    print(f"{'N':>6} {'unchunked':>10} {'gradcache':>10} {'ratio':>7}")
    for n in sizes:
        full, cached = run_isolated("full", n, n, device), run_isolated("gradcache", n, chunk, device)
        assert abs(full["loss"] - cached["loss"]) <= tol * abs(full["loss"]), "the two steps disagree"
        ratio = full["peak_mb"] / cached["peak_mb"]
        print(f"{n:>6} {full['peak_mb']:>10.1f} {cached['peak_mb']:>10.1f} {ratio:>6.1f}x")
    n = sizes[-1]
    print(f"gradcache at N = {n}, by chunk:")
    for c in sorted(chunk_sweep + [chunk]):
        print(f"{'chunk ' + str(c):>12} {run_isolated('gradcache', n, c, device)['peak_mb']:>10.1f}")
    print("(what does not shrink with the chunk is the stand-in exact MMD's own N x N kernel matrices)")


if __name__ == "__main__":
    main()
