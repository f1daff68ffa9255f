"""Score generated images or an ADM-style .npz batch against a scale's evaluation banks."""

from __future__ import annotations

import os
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from ..data.npz import load_npz_batch
from ..reference.banks import FILES, MISSING_HINT, EvalBank, MissingReferenceError, load_eval_bank, reference_dir
from ..representation.features import extract_features
from .ratios import check_sample_count, score_features

EncoderLoader = Callable[[str], tuple[nn.Module, str]]


def score_images(images: Tensor, encoders: Mapping[str, nn.Module], banks: Mapping[str, EvalBank],
                 batch: int = 500, allow_fewer: bool = False, device: str | torch.device = "cpu") -> dict:
    """Extract each encoder's features of images in [0, 1] [N, C, H, W] on ``device`` (each encoder is moved
    there), then both ratio sets (:func:`~rdm_core.eval.ratios.score_features`); held-out encoders are read
    from their specs."""
    feats = {name: extract_features(enc.to(device), images, batch, device) for name, enc in encoders.items()}
    heldout = [name for name, enc in encoders.items() if enc.spec.split == "heldout"]
    return score_features(feats, banks, heldout, allow_fewer)


def load_battery(scale_dir: str | os.PathLike, battery_names: Iterable[str], encoder_loader: EncoderLoader
                 ) -> tuple[dict[str, nn.Module], dict[str, EvalBank]]:
    """Every encoder of a battery and its evaluation banks from ``<scale_dir>/reference/<name>/``; banks
    made with other weights than ``encoder_loader(name)`` returns are refused."""
    names = list(battery_names)
    missing = [n for n in names if not all((reference_dir(scale_dir, n) / FILES[kind]).is_file()
                                           for kind in ("sw_bank", "rff_bank"))]
    if missing:
        raise MissingReferenceError(f"no evaluation banks for {', '.join(missing)} under "
                                    f"{reference_dir(scale_dir, '<encoder>')}; {MISSING_HINT}")
    encoders, banks = {}, {}
    for name in names:
        encoders[name], weights_sha = encoder_loader(name)
        banks[name] = load_eval_bank(reference_dir(scale_dir, name), {"encoder": name, "weights_sha256": weights_sha})
    return encoders, banks


def score_npz(path: str | os.PathLike, scale_dir: str | os.PathLike, battery_names: Iterable[str],
              encoder_loader: EncoderLoader, batch: int = 500, allow_fewer: bool = False) -> dict:
    """Score an .npz sample batch with every encoder of a battery (see :func:`load_battery`); a batch
    smaller than the banks is refused before any feature is extracted unless ``allow_fewer``."""
    images, _ = load_npz_batch(path)
    encoders, banks = load_battery(scale_dir, battery_names, encoder_loader)
    check_sample_count(images.shape[0], banks, allow_fewer)
    return score_images(images, encoders, banks, batch, allow_fewer)
