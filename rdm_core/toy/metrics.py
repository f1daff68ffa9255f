"""Spiral metrics: recall of the curve anchors and medDist, the median distance of samples to the curve."""

from __future__ import annotations

import torch

from .data import anchors, sample_spiral, spiral_curve


def recall(samples: torch.Tensor, anchor_points: torch.Tensor, radius: float) -> float:
    """Fraction of anchors with at least one sample within ``radius``; non-finite samples cover nothing."""
    samples = samples[torch.isfinite(samples).all(dim=1)].to(torch.float64)
    if samples.shape[0] == 0:
        return 0.0
    nearest = torch.cdist(anchor_points.to(torch.float64), samples).amin(dim=1)
    return float((nearest < radius).to(torch.float64).mean())


def med_dist(samples: torch.Tensor, dense_curve: torch.Tensor) -> float:
    """Median over samples of the distance to the nearest dense curve point; NaN if any sample is
    non-finite."""
    if not bool(torch.isfinite(samples).all()):
        return float("nan")
    nearest = torch.cdist(samples.to(torch.float64), dense_curve.to(torch.float64)).amin(dim=1)
    return float(torch.quantile(nearest, 0.5))


def evaluate(samples2d: torch.Tensor, cfg: dict) -> dict:
    """``{"recall", "med_dist"}`` of plane samples against the spiral of ``cfg``."""
    return {"recall": recall(samples2d, anchors(cfg), cfg["eval"]["recall_radius"]),
            "med_dist": med_dist(samples2d, spiral_curve(cfg))}


def real_floor(cfg: dict) -> dict:
    """Metrics of a fresh draw of ``eval.n_samples`` real points (eval seed); the paper's floor is
    medDist 0.033."""
    n, seed = cfg["eval"]["n_samples"], cfg["eval"]["seed"]
    return {**evaluate(sample_spiral(cfg, n, seed), cfg), "n": n, "seed": seed}
