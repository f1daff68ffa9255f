"""The frozen reference of one encoder: bandwidth, Nystrom bundle, floors and evaluation banks (SPEC 1.2, 1.5, 2.2, 2.3).

Built once from the encoder's train and val features and reused by every experiment. The floor b_phi is
the training loss itself on real val draws, so it lives here and never in the evaluation package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from ..compare.kernels import median_sigma
from ..compare.mmd import NystromBundle, build_nystrom_bundle, irdm_loss
from ..io import save_tensors, write_json
from ..representation.joint import joint_features
from .banks import FILES, FLOORS_JSON, build_eval_bank, load_eval_bank, load_file, save_eval_bank

CONFIG_KEYS = ("sigma_n", "landmarks", "kmeans_iters", "fit_n", "k_rr_n", "floor_draws", "floor_n",
               "sw_n", "rff_features", "rff_n")
SHARED_KEYS = ("encoder", "dim", "weights_sha256", "preprocessing")


def reference_config(cfg: Mapping) -> dict:
    """The reference settings of a config section, checked complete (extra keys are dropped)."""
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f"reference config lacks {', '.join(missing)}")
    return {k: cfg[k] for k in CONFIG_KEYS}


def reference_metadata(train_meta: Mapping, val_meta: Mapping, cfg: Mapping, seed: int) -> dict:
    """Metadata of a reference from its train and val features' metadata (same encoder, weights and
    preprocessing), the reference settings and the seed."""
    for key in SHARED_KEYS:
        if train_meta[key] != val_meta[key]:
            raise ValueError(f"train and val features differ in '{key}': {train_meta[key]!r} vs {val_meta[key]!r}")
    split = ("data_sha256", "count", "seed")
    return {**{k: train_meta[k] for k in SHARED_KEYS}, "train": {k: train_meta[k] for k in split},
            "val": {k: val_meta[k] for k in split}, "config": reference_config(cfg), "seed": int(seed)}


def nystrom_floor(val: Tensor, bundle: NystromBundle, n: int, draws: int, seed: int = 0) -> float:
    """Floor b_phi: the mean over ``draws`` seeded draws of ``n`` val rows (without replacement) of the
    Nystrom MMD^2 (the iRDM loss value, same k_rr) against the train bundle, in float64."""
    if n > val.shape[0]:
        raise ValueError(f"the floor draws {n} val rows, only {val.shape[0]} are available")
    gen = torch.Generator().manual_seed(seed)
    values = []
    with torch.no_grad():
        for _ in range(draws):
            rows = val[torch.randperm(val.shape[0], generator=gen)[:n]].double()
            values.append(float(irdm_loss(rows, bundle, chunk=4096)))
    return sum(values) / draws


def build_reference(train_feats: Tensor, val_feats: Tensor, cfg: Mapping, seed: int = 0,
                    device: str | torch.device = "cpu") -> dict:
    """Build the reference of one encoder.

    Returns ``sigma`` (median heuristic on ``sigma_n`` seeded train rows), ``bundle`` (Nystrom bundle over
    all train rows), ``nystrom_floor`` and ``bank`` (:class:`~rdm_core.reference.banks.EvalBank`). sigma,
    the bundle and its floor are computed on ``device`` (the seeded row draws stay the CPU's), the banks on
    the CPU; everything returned lives on the CPU.
    """
    cfg = reference_config(cfg)
    train_feats, val_feats = train_feats.detach().float(), val_feats.detach().float()
    train_on, val_on = train_feats.to(device), val_feats.to(device)
    sigma = median_sigma(train_on, n_sub=cfg["sigma_n"], seed=seed)
    bundle = build_nystrom_bundle(train_on, sigma, cfg["landmarks"], seed=seed, iters=cfg["kmeans_iters"],
                                  fit_n=cfg["fit_n"], k_rr_n=cfg["k_rr_n"])
    floor = nystrom_floor(val_on, bundle, cfg["floor_n"], cfg["floor_draws"], seed)
    return {"sigma": sigma, "bundle": bundle.to("cpu"), "nystrom_floor": floor,
            "bank": build_eval_bank(train_feats, val_feats, sigma, cfg["sw_n"], cfg["rff_features"],
                                    cfg["rff_n"], seed)}


def text_pair_bundles(image_feats: Mapping[str, Tensor], text_feats: Tensor, joint: bool, sigma_scale: float,
                      s_txt: float, landmarks: int, cfg: Mapping, seed: int = 0) -> dict:
    """Nystrom bundles of real image-caption pairs per encoder: over [phi | beta * tau] (``joint``) or phi alone.

    sigma = ``sigma_scale`` x the median heuristic of the image features and beta = sigma / ``s_txt``, so the
    joint kernel factorises into k_img(sigma) * k_txt(s_txt); the marginal law uses the same sigma (beta 0).
    ``cfg`` is the reference section (k-means, fit and k_rr sizes). Returns {"bundles", "sigma", "beta"}.
    """
    cfg = reference_config(cfg)
    out: dict = {"bundles": {}, "sigma": {}, "beta": {}}
    for name, feats in image_feats.items():
        feats = feats.detach().float()
        if feats.shape[0] != text_feats.shape[0]:
            raise ValueError(f"encoder '{name}': {feats.shape[0]} image features, {text_feats.shape[0]} captions")
        sigma = sigma_scale * median_sigma(feats, n_sub=cfg["sigma_n"], seed=seed)
        beta = sigma / s_txt if joint else 0.0
        rows = joint_features(feats, text_feats, beta) if joint else feats
        out["bundles"][name] = build_nystrom_bundle(rows, sigma, landmarks, seed=seed, iters=cfg["kmeans_iters"],
                                                    fit_n=cfg["fit_n"], k_rr_n=cfg["k_rr_n"])
        out["sigma"][name], out["beta"][name] = sigma, beta
    return out


def floors(ref: Mapping) -> dict[str, float]:
    """The real-data floors of a reference: Nystrom MMD^2 (training), SW_2 and RFF-MMD^2 (evaluation)."""
    bank = ref["bank"]
    return {"nystrom": ref["nystrom_floor"], "sw": bank.sw_floor, "rff": bank.rff_floor, "sigma": ref["sigma"]}


def save_reference(directory: str | os.PathLike, ref: Mapping, meta: Mapping) -> None:
    """Write a reference directory: the bundle, the two banks and ``floors.json``, each with ``meta``."""
    directory = Path(directory)
    meta = dict(meta)
    save_tensors(directory / FILES["nystrom"],
                 {**ref["bundle"].to_tensors(), "floor": torch.tensor(ref["nystrom_floor"], dtype=torch.float64)},
                 {**meta, "kind": "nystrom"})
    save_eval_bank(directory, ref["bank"], meta)
    write_json(directory / FLOORS_JSON, {**floors(ref), "encoder": meta.get("encoder")})


def load_reference(directory: str | os.PathLike, expect_meta: Mapping | None = None) -> dict:
    """Load a reference directory written by :func:`save_reference`, refusing files whose metadata
    differs from ``expect_meta`` (:class:`~rdm_core.io.CacheError`) or that are missing."""
    tensors = load_file(directory, "nystrom", expect_meta)
    bundle = NystromBundle.from_tensors(tensors)
    return {"sigma": bundle.sigma, "bundle": bundle, "nystrom_floor": float(tensors["floor"]),
            "bank": load_eval_bank(directory, expect_meta)}

