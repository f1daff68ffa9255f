"""The six distance arms of the spiral diagnostic, built on ``rdm_core.compare``.

Each factory freezes what the arm keeps fixed (moments, bandwidths, RFF maps, Nystrom bundles) once and
returns ``loss(gen_batch, step_generator)``; per-step randomness (real batches, memory banks, SW
directions) comes from ``step_generator`` so a cell is deterministic given its seed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch
from torch import Tensor

from rdm_core.compare.drifting import drifting_loss
from rdm_core.compare.frechet import frechet_distance, moments, sqrtm_psd
from rdm_core.compare.kernels import median_sigma
from rdm_core.compare.mmd import NystromBundle, RFFMap, build_nystrom_bundle, irdm_loss, mmd2_rff
from rdm_core.compare.sliced import sw_loss

LossFn = Callable[[Tensor, torch.Generator], Tensor]


def _subset(real: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """``k`` real points drawn without replacement."""
    return real[torch.randperm(real.shape[0], generator=generator)[:k]]


def kernel_sigmas(real: Tensor, cfg: dict) -> list[float]:
    """Multi-scale bandwidths: ``kernel_scales`` x the median-heuristic sigma of all real points."""
    sigma = median_sigma(real, n_sub=real.shape[0], seed=0)
    return [s * sigma for s in cfg["distances"]["kernel_scales"]]


def frechet(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """Frechet distance of the batch's Gaussian to the frozen global real mean and covariance."""
    mu_r, cov_r = moments(real)
    root_r = sqrtm_psd(cov_r.to(torch.float64))
    return lambda g, step_gen: frechet_distance(g, mu_r, cov_r, sqrt_cov_r=root_r)


def sw(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """Sliced Wasserstein against B real points drawn that step, fresh directions every step."""
    n_proj = cfg["distances"]["sw_projections"]
    return lambda g, step_gen: sw_loss(g, _subset(real, batch, step_gen), n_proj, step_gen)


def drifting(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """Drifting regression onto the coupled field from a memory bank of real points drawn that step,
    the affinity product floored at ``drifting_affinity_floor`` as in the official toy code."""
    d = cfg["distances"]
    temps, floor = tuple(d["drifting_temperatures"]), float(d["drifting_affinity_floor"])
    return lambda g, step_gen: drifting_loss(g, _subset(real, d["drifting_bank"], step_gen), temps, floor)


def mmd_rff(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """Random-Fourier-feature MMD^2 to the frozen real mean embedding, summed over scales.

    The S per-scale maps (``n_features`` each) are stacked into one map: its sqrt(2 / n) normalisation
    sees S times the features, so its squared MMD is the mean over scales and S times it is the
    multi-scale sum, computed in one projection.
    """
    n_feat = cfg["distances"]["n_features"]
    maps = [RFFMap.from_seed(real.shape[1], s, n_feat, int(torch.randint(2**31 - 1, (), generator=rng)))
            for s in kernel_sigmas(real, cfg)]
    stacked = RFFMap(W=torch.cat([m.W for m in maps], dim=1), b=torch.cat([m.b for m in maps]))
    mu_r, n_scales = stacked.mean_embedding(real), float(len(maps))
    return lambda g, step_gen: n_scales * mmd2_rff(g, mu_r, stacked)


def mmd_exact(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """Biased exact MMD against B real points drawn that step: per scale mean k(g, g) - 2 mean k(g, r),
    summed over scales.

    Computed as the multi-bandwidth ``irdm_loss`` with the drawn points as landmarks, uniform weights
    1 / B and ``k_rr = 0``: its attraction ``mean_i k(g_i, r) @ alpha`` is then exactly ``mean k(g, r)``.
    """
    sigmas = kernel_sigmas(real, cfg)
    weights = torch.full((batch,), 1.0 / batch)

    def loss(g: Tensor, step_gen: torch.Generator) -> Tensor:
        r = _subset(real, batch, step_gen)
        return irdm_loss(g, [NystromBundle(Z=r, alpha=weights, sigma=s, k_rr=0.0) for s in sigmas])
    return loss


def mmd_nystrom(real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """iRDM loss: exact repulsion + Nystrom attraction to a reference frozen over all real points.

    Landmarks are one random subset of ``n_features`` real points, shared by the scales (the protocol
    allows it), so one multi-bundle ``irdm_loss`` forms each distance matrix once. The bundle's
    alpha = K_ZZ^-1 mu_Zr form equals the protocol's eigh K_ZZ^-1/2 feature map with frozen mean:
    psi(g) . mu = k(g, Z) K^-1/2 K^-1/2 mu_Zr = k(g, Z) alpha.
    """
    n_land = cfg["distances"]["n_features"]
    landmarks = _subset(real, n_land, rng)
    # the bundles hold the one landmark tensor, so irdm_loss needs no value comparison to see it shared
    bundles = [replace(build_nystrom_bundle(real, s, n_land, landmarks=landmarks), Z=landmarks)
               for s in kernel_sigmas(real, cfg)]
    return lambda g, step_gen: irdm_loss(g, bundles)


ARMS: dict[str, Callable[[Tensor, int, dict, torch.Generator], LossFn]] = {
    "frechet": frechet, "sw": sw, "drifting": drifting,
    "mmd_rff": mmd_rff, "mmd_exact": mmd_exact, "mmd_nystrom": mmd_nystrom,
}


def make_loss(distance: str, real: Tensor, batch: int, cfg: dict, rng: torch.Generator) -> LossFn:
    """The loss of arm ``distance`` on embedded real points ``real`` [n, D] at generated batch ``batch``."""
    if distance not in ARMS:
        raise ValueError(f"unknown toy distance {distance!r}; expected one of {sorted(ARMS)}")
    return ARMS[distance](real, batch, cfg, rng)
