"""Benchmark the closed-form iRDM loss (forward + backward) against the matrix-product floor.

Prints, from one run: best-of-R times and their ratio to the floor (the four unavoidable products:
Gram N x N x d, cross N x M x d, K @ g and (C * alpha) @ Z) for the closed-form loss unchunked and
chunked, for autograd with checkpointed row chunks (the official recipe) and for plain autograd; the
agreement of values and gradients; and the peak resident-memory growth of each variant, measured in
a fresh subprocess (Linux). Timings are noisy on a shared machine; rounds are interleaved and the best kept.

    python benchmarks/bench_irdm_loss.py                # N=4096, d=1024, M=4096, fp32, CPU
    python benchmarks/bench_irdm_loss.py --small        # quick smoke run
    python benchmarks/bench_irdm_loss.py --device cuda  # the paper's rollout N=5120, d=1024, M=4096 on the GPU
                                                        # (the loss runs on fp32 features, as the official one;
                                                        # peak memory from torch.cuda, in-process)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import torch
from torch.utils.checkpoint import checkpoint

from device import add_device_arg, pick_device, seconds
from rdm_core.compare.kernels import rbf
from rdm_core.compare.mmd import NystromBundle, irdm_loss


def make_inputs(n: int, d: int, m: int, seed: int = 0, device: str | torch.device = "cpu"
                ) -> tuple[torch.Tensor, NystromBundle]:
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(n, d, generator=gen)
    z = torch.randn(m, d, generator=gen)
    alpha = torch.rand(m, generator=gen) / m
    sigma = float((2 * d) ** 0.5)  # about the median distance of these Gaussians: kernel values spread
    return g.to(device), NystromBundle(Z=z, alpha=alpha, sigma=sigma, k_rr=0.1).to(device)


def floor_products(g: torch.Tensor, bundle: NystromBundle, k: torch.Tensor, c: torch.Tensor) -> None:
    g @ g.T
    g @ bundle.Z.T
    k @ g
    c @ bundle.Z


def autograd_checkpointed(g: torch.Tensor, bundle: NystromBundle, chunk: int) -> torch.Tensor:
    """The loss by autograd, each row chunk's repulsion and attraction checkpointed."""
    n, sigma = g.shape[0], bundle.sigma
    rep = sum(checkpoint(lambda a, b: rbf(a, b, sigma).sum(), g[s:s + chunk], g, use_reentrant=False)
              for s in range(0, n, chunk))
    att = sum(checkpoint(lambda a: (rbf(a, bundle.Z, sigma) @ bundle.alpha).sum(), g[s:s + chunk],
                         use_reentrant=False) for s in range(0, n, chunk))
    return rep / n ** 2 - 2 * att / n + bundle.k_rr


def autograd_plain(g: torch.Tensor, bundle: NystromBundle) -> torch.Tensor:
    return rbf(g, g, bundle.sigma).mean() - 2 * (rbf(g, bundle.Z, bundle.sigma) @ bundle.alpha).mean() + bundle.k_rr


def variants(chunk: int):
    return {
        "closed-form, unchunked": lambda g, b: irdm_loss(g, b),
        f"closed-form, chunk={chunk}": lambda g, b: irdm_loss(g, b, chunk=chunk),
        f"autograd + checkpoint, chunk={chunk}": lambda g, b: autograd_checkpointed(g, b, chunk),
        "autograd, unchunked": autograd_plain,
    }


def forward_backward(fn, g: torch.Tensor, bundle: NystromBundle) -> tuple[float, torch.Tensor]:
    x = g.clone().requires_grad_()
    loss = fn(x, bundle)
    loss.backward()
    return loss.item(), x.grad


def peak_mb(args: argparse.Namespace, name: str, device: torch.device) -> float:
    """Peak memory growth (MB) over one forward + backward of ``name``: on CUDA the allocator's peak above what
    is allocated before, in this process; on the CPU the RSS growth in a fresh process."""
    if device.type == "cuda":
        g, bundle = make_inputs(args.n, args.d, args.m, device=device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        forward_backward(variants(args.chunk)[name], g, bundle)
        return (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20
    out = subprocess.run([sys.executable, __file__, "--n", str(args.n), "--d", str(args.d), "--m", str(args.m),
                          "--chunk", str(args.chunk), "--peak", name], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith(key + ":")))


def run_peak(args: argparse.Namespace) -> None:
    """Print the peak RSS growth (MB) over one forward + backward (Linux: VmHWM reset via clear_refs)."""
    g, bundle = make_inputs(args.n, args.d, args.m)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the high-water mark, so import-time peaks do not count
    before = _status_kb("VmRSS")
    forward_backward(variants(args.chunk)[args.peak], g, bundle)
    print((_status_kb("VmHWM") - before) / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, help="rollout N (default 4096; 5120 with --device cuda)")
    parser.add_argument("--d", type=int, default=1024)
    parser.add_argument("--m", type=int, default=4096)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="N=512, d=128, M=512, chunk=128")
    add_device_arg(parser)
    parser.add_argument("--peak", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = pick_device(args)
    args.n = args.n or (5120 if args.cuda else 4096)
    if args.small:
        args.n, args.d, args.m, args.chunk = 512, 128, 512, 128
    if args.peak:
        run_peak(args)
        return

    torch.manual_seed(0)
    g, bundle = make_inputs(args.n, args.d, args.m, device=device)
    k, c = torch.rand(args.n, args.n, device=device), torch.rand(args.n, args.m, device=device)
    runs = variants(args.chunk)
    print(f"N={args.n} d={args.d} M={args.m} chunk={args.chunk} fp32 on {device}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}, best of {args.repeats} interleaved rounds")

    best = {name: float("inf") for name in ["floor (4 products)", *runs]}
    results = {}
    for _ in range(args.repeats):
        best["floor (4 products)"] = min(best["floor (4 products)"],
                                         seconds(lambda: floor_products(g, bundle, k, c), device))
        for name, fn in runs.items():
            t = seconds(lambda: results.__setitem__(name, forward_backward(fn, g, bundle)), device)
            best[name] = min(best[name], t)
    floor = best["floor (4 products)"]
    print(f"\n{'variant':42s} {'time s':>8s} {'x floor':>8s}")
    for name, t in best.items():
        print(f"{name:42s} {t:8.3f} {t / floor:8.2f}")

    ref_value, ref_grad = results["autograd, unchunked"]
    print("\nagreement with plain autograd (fp32):")
    for name, (value, grad) in results.items():
        rel = ((grad - ref_grad).norm() / ref_grad.norm()).item()
        print(f"  {name:40s} loss {value:.7f}  |dvalue| {abs(value - ref_value):.1e}  rel grad err {rel:.1e}")

    what = "CUDA allocator peak growth" if device.type == "cuda" else "peak RSS growth, each in a fresh process"
    print(f"\n{what} over one forward+backward (MB):")
    for name in runs:
        print(f"  {name:40s} {peak_mb(args, name, device):8.1f}")
    mb = 4 / 2 ** 20
    n, m, c = args.n, args.m, args.chunk
    print(f"  expected for the closed form: one kernel block at a time, unchunked max(N*N, N*M) = "
          f"{max(n * n, n * m) * mb:.0f} MB, chunked max(chunk*chunk, chunk*M) = {max(c * c, c * m) * mb:.0f} MB;\n"
          f"  plus about five N*d buffers (input copy, centred copy, gradient accumulator, returned gradient, "
          f".grad) = {5 * n * args.d * mb:.0f} MB")


if __name__ == "__main__":
    main()
