"""Kernel MMD: the exact biased estimator, the Nystrom bundle and the iRDM loss (SPEC 1.2).

The iRDM loss of one encoder is ``repulsion(g) - 2 attraction(g) + k_rr`` with an exact biased
within-batch repulsion and a Nystrom kernel-mean attraction toward a reference frozen in a bundle.
The RFF estimator lives in :mod:`.rff` (evaluation uses it without loading the training loss) and is
re-exported here as the third member of the MMD family.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .kernels import rbf
from .rff import RFFMap, mmd2_rff  # noqa: F401  (re-export)


def repulsion(g: Tensor, sigma: float) -> Tensor:
    """Biased within-set kernel mean ``(1/N^2) sum_{i,i'} k(g_i, g_i')``, diagonal included."""
    return rbf(g, g, sigma).mean()


def cross_mean(g: Tensor, r: Tensor, sigma: float) -> Tensor:
    """Mean cross kernel ``mean_{i,j} k(g_i, r_j)``."""
    return rbf(g, r, sigma).mean()


def mmd2_exact(g: Tensor, r: Tensor, sigma: float) -> Tensor:
    """Biased squared MMD (V-statistic) between two samples."""
    return repulsion(g, sigma) - 2.0 * cross_mean(g, r, sigma) + repulsion(r, sigma)


def _nearest(x: Tensor, centroids: Tensor, chunk: int = 8192) -> Tensor:
    """Index of the nearest centroid of every row, in row chunks."""
    half_sq = 0.5 * (centroids * centroids).sum(1)
    return torch.cat([torch.addmm(half_sq, x[s:s + chunk], centroids.T, alpha=-1.0).argmin(1)
                      for s in range(0, x.shape[0], chunk)])


def kmeans(x: Tensor, k: int, iters: int = 20, seed: int = 0) -> Tensor:
    """Lloyd's k-means from ``k`` seeded random rows; an empty cluster keeps its centroid."""
    x = x.detach()
    if k > x.shape[0]:
        raise ValueError(f"k-means with k={k} needs at least k rows, got {x.shape[0]}")
    gen = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(x.shape[0], generator=gen)[:k].to(x.device)].clone()
    for _ in range(iters):
        assign = _nearest(x, centroids)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled].unsqueeze(1).to(x.dtype)
    return centroids


@dataclass
class NystromBundle:
    """Frozen Nystrom reference of one encoder: landmarks ``Z [M, d]``, weights ``alpha [M]``,
    bandwidth ``sigma`` and the data-data constant ``k_rr``."""

    Z: Tensor
    alpha: Tensor
    sigma: float
    k_rr: float

    def to_tensors(self) -> dict[str, Tensor]:
        return {"Z": self.Z.contiguous(), "alpha": self.alpha.contiguous(),
                "sigma": torch.tensor(self.sigma, dtype=torch.float64),
                "k_rr": torch.tensor(self.k_rr, dtype=torch.float64)}

    @classmethod
    def from_tensors(cls, d: dict[str, Tensor]) -> "NystromBundle":
        return cls(Z=d["Z"], alpha=d["alpha"], sigma=float(d["sigma"]), k_rr=float(d["k_rr"]))

    def to(self, device: str | torch.device) -> "NystromBundle":
        """The bundle with its landmarks and weights on ``device``."""
        return NystromBundle(Z=self.Z.to(device), alpha=self.alpha.to(device), sigma=self.sigma, k_rr=self.k_rr)


def _kernel_row_sums(a: Tensor, b: Tensor, sigma: float, chunk: int) -> Tensor:
    """``sum_j k(a_i, b_j)`` for every row of ``a``, in float64, streaming ``b`` in row chunks."""
    a = a.to(torch.float64)
    total = torch.zeros(a.shape[0], dtype=torch.float64, device=a.device)
    for s in range(0, b.shape[0], chunk):
        total += rbf(a, b[s:s + chunk].to(a), sigma).sum(1)
    return total


def build_nystrom_bundle(ref: Tensor, sigma: float, n_landmarks: int = 4096, seed: int = 0,
                         iters: int = 20, fit_n: int = 200_000, chunk: int = 50_000,
                         k_rr_n: int = 100_000, landmarks: Tensor | None = None) -> NystromBundle:
    """Build the frozen attraction reference (SPEC 1.2).

    Landmarks are k-means centroids fitted on a seeded random subsample of ``fit_n`` rows unless
    ``landmarks`` is given. ``alpha = (K_ZZ + 1e-6 I)^{-1} mu_Zr`` with ``mu_Zr`` streamed over the
    full ``ref`` in chunks of ``chunk`` rows; ``k_rr`` is the biased kernel mean of the first
    ``k_rr_n`` rows, streamed with the same memory as one ``mu_Zr`` chunk. Float64 inside, fp32 out.
    """
    ref = ref.detach()
    if landmarks is None:
        gen = torch.Generator().manual_seed(seed)
        fit = ref[torch.randperm(ref.shape[0], generator=gen)[:fit_n].to(ref.device)]
        landmarks = kmeans(fit, n_landmarks, iters=iters, seed=seed)
    z = landmarks.detach().to(device=ref.device, dtype=torch.float64)
    k_zz = rbf(z, z, sigma) + 1e-6 * torch.eye(z.shape[0], dtype=torch.float64, device=z.device)
    chol = torch.linalg.cholesky(k_zz)
    mu_zr = _kernel_row_sums(z, ref, sigma, chunk) / ref.shape[0]
    alpha = torch.cholesky_solve(mu_zr.unsqueeze(1), chol).squeeze(1)
    head = ref[:k_rr_n]
    rr_chunk = max(1, chunk * z.shape[0] // head.shape[0])
    k_rr = _kernel_row_sums(head, head, sigma, rr_chunk).sum() / head.shape[0] ** 2
    return NystromBundle(Z=z.float(), alpha=alpha.float(), sigma=float(sigma), k_rr=float(k_rr))


def attraction(g: Tensor, bundle: NystromBundle) -> Tensor:
    """Nystrom estimate of ``mean_{i,j} k(g_i, r_j)``: ``mean_i k(g_i, Z) @ alpha``."""
    z, alpha = bundle.Z.to(g), bundle.alpha.to(g)
    return (rbf(g, z, bundle.sigma) @ alpha).mean()


def _exp_floored_(t: Tensor) -> Tensor:
    """In-place ``exp`` of kernel exponents. On CPU they are first floored at ``log(2 tiny)``, ``tiny``
    the smallest normal float: this lifts only kernel values below 2.4e-38 (fp32; 4.5e-308 in fp64)
    and keeps the vectorised CPU ``exp`` off its underflow path, which is 10-30x slower."""
    if t.device.type == "cpu":
        t.clamp_min_(math.log(2.0 * torch.finfo(t.dtype).tiny))
    return t.exp_()


def _gauss_(x: Tensor, y: Tensor, hx: Tensor, hy: Tensor, gamma: float, ratios: list[float]) -> list[Tensor]:
    """Kernel blocks ``exp(-gamma r ||x_i - y_j||^2)`` for ``r`` in ``[1, *ratios]``, built from
    ``hx = -gamma |x|^2`` and ``hy = -gamma |y|^2`` with one product; the ``r = 1`` block reuses its
    buffer in place (no autograd; for the closed-form loss)."""
    out = torch.addmm(hy.unsqueeze(0), x, y.T, alpha=2.0 * gamma).add_(hx.unsqueeze(1)).clamp_max_(0.0)
    others = [_exp_floored_(out.mul(r)) for r in ratios]
    return [_exp_floored_(out), *others]


def _weighted_(blocks: list[Tensor], ratios: list[float]) -> Tensor:
    """``blocks[0] + sum_s ratios[s] blocks[s + 1]``, accumulated in place into ``blocks[0]``."""
    for block, r in zip(blocks[1:], ratios):
        blocks[0].add_(block, alpha=r)
    return blocks[0]


def _irdm_terms(g: Tensor, z: Tensor, alpha: Tensor, sigmas: tuple[float, ...], chunk: int | None,
                want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """``sum_s repulsion_s - 2 attraction_s`` over the bandwidths ``sigmas`` (landmarks ``z`` shared,
    weights ``alpha [S, M]``) and, if asked, its closed-form gradient with respect to ``g``.

    With ``gamma_s = 1 / (2 sigma_s^2)``, ``K_s = k_s(g, g)``, ``s_s = K_s 1``, ``C_s = k_s(g, Z)``
    and ``a_s = C_s alpha_s``, the gradient is
        sum_s 4 gamma_s / N^2 (K_s g - s_s * g)  +  4 gamma_s / N (a_s * g - (C_s * alpha_s) Z).
    With ``w_s = gamma_s / gamma_0``, ``K = sum_s w_s K_s`` and ``C = sum_s w_s C_s * alpha_s`` (the
    scales summed before the products) it is ``4 gamma_0 / N^2 [(K g - N C Z) - (K 1 - N sum_s w_s a_s) * g]``,
    accumulated in one buffer. The repulsion Gram is symmetric, so only blocks on and above the
    diagonal are formed and an off-diagonal block feeds both its row block and its column block.
    Rows are processed in blocks of ``chunk`` (all at once when ``None``): kernel memory
    O(S x chunk x (chunk + M)) on top of O(N x d).
    """
    n = g.shape[0]
    gamma = 0.5 / sigmas[0] ** 2
    ratios = [(sigmas[0] / s) ** 2 for s in sigmas[1:]]
    shift = g.mean(0)  # distances are translation invariant; centring limits fp32 cancellation
    gc, zc = g - shift, z - shift
    hg, hz = -gamma * (gc * gc).sum(1), -gamma * (zc * zc).sum(1)
    step = n if chunk is None else max(1, int(chunk))
    blocks = [(s, min(s + step, n)) for s in range(0, n, step)]
    rep = torch.zeros((), dtype=g.dtype, device=g.device)
    att = torch.empty(n, len(sigmas), dtype=g.dtype, device=g.device)
    row_sum, acc = (torch.zeros_like(hg), torch.zeros_like(gc)) if want_grad else (None, None)
    for b, (i0, i1) in enumerate(blocks):
        gi = gc[i0:i1]
        cs = _gauss_(gi, zc, hg[i0:i1], hz, gamma, ratios)
        att[i0:i1] = torch.stack([c @ a for c, a in zip(cs, alpha)], 1)
        if want_grad:
            acc[i0:i1].addmm_(_weighted_([c.mul_(a) for c, a in zip(cs, alpha)], ratios), zc, alpha=-n)
        del cs
        for j0, j1 in blocks[b:]:
            ks = _gauss_(gi, gc[j0:j1], hg[i0:i1], hg[j0:j1], gamma, ratios)
            rep += sum(k.sum() for k in ks) * (1.0 if j0 == i0 else 2.0)
            if want_grad:
                k = _weighted_(ks, ratios)
                if j0 == i0:  # a self-pair adds K_ii (g_i - g_i) = 0: drop it rather than cancel it in fp32
                    k.fill_diagonal_(0.0)
                row_sum[i0:i1] += k.sum(1)
                acc[i0:i1].addmm_(k, gc[j0:j1])
                if j0 != i0:
                    row_sum[j0:j1] += k.sum(0)
                    acc[j0:j1].addmm_(k.T, gi)
            del ks
    value = rep / n ** 2 - 2.0 * att.sum() / n
    if not want_grad:
        return value, None
    weights = torch.tensor([1.0, *ratios], dtype=g.dtype, device=g.device)
    weight = row_sum.sub_(att @ weights, alpha=n).unsqueeze(1)
    return value, acc.addcmul_(weight, gc, value=-1.0).mul_(4.0 * gamma / n ** 2)


class _IRDMLoss(torch.autograd.Function):
    """iRDM loss with the closed-form gradient computed during forward; backward only scales it."""

    @staticmethod
    def forward(ctx, g, z, alpha, sigmas, k_rr, chunk, want_grad):
        value, grad = _irdm_terms(g, z, alpha, sigmas, chunk, want_grad)
        if want_grad:
            ctx.save_for_backward(grad)
        return value + k_rr

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        (grad,) = ctx.saved_tensors
        return grad * grad_out, None, None, None, None, None, None


def irdm_loss(g: Tensor, bundle: NystromBundle | Sequence[NystromBundle], chunk: int | None = None) -> Tensor:
    """iRDM loss ``repulsion(g) - 2 attraction(g, bundle) + k_rr`` (SPEC eq. 3), exact in value and
    gradient for any ``chunk``; first-order differentiable only (closed-form RBF gradient).

    A sequence of bundles on the same landmarks (one per bandwidth) gives the sum of their losses,
    each distance block formed once for all of them."""
    bundles = [bundle] if isinstance(bundle, NystromBundle) else list(bundle)
    z = bundles[0].Z
    if any(b.Z is not z and not torch.equal(b.Z, z) for b in bundles[1:]):
        raise ValueError("irdm_loss over several bundles needs them to share their landmarks")
    alpha = torch.stack([b.alpha for b in bundles]).to(g)
    sigmas = tuple(float(b.sigma) for b in bundles)
    k_rr = sum(float(b.k_rr) for b in bundles)
    want_grad = torch.is_grad_enabled() and g.requires_grad
    return _IRDMLoss.apply(g, z.to(g), alpha, sigmas, k_rr, chunk, want_grad)
