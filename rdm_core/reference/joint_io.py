"""Joint Nystrom bundles of the class-conditional stage on disk: one safetensors file, every encoder's
bundle under ``<encoder>.<tensor>`` and the floors, bandwidths, class weights and settings as metadata."""

from __future__ import annotations

import json
import os
from typing import Mapping

from ..compare.mmd import NystromBundle
from ..io import load_tensors, save_tensors


def save_joint_reference(path: str | os.PathLike, joint: Mapping, made_by: Mapping) -> None:
    tensors = {f"{name}.{k}": v for name, b in joint["bundles"].items() for k, v in b.to_tensors().items()}
    meta = {"encoders": list(joint["bundles"]), "floors": joint["floors"], "sigma": joint["sigma"],
            "beta": joint["beta"], "cross_class_factor": joint["cross_class_factor"], "made_by": dict(made_by)}
    save_tensors(path, tensors, meta)


def load_joint_reference(path: str | os.PathLike, encoders=None) -> dict:
    """{"bundles", "floors", "sigma", "beta"} (keyed by encoder, restricted to ``encoders`` if given) + "made_by"."""
    tensors, meta = load_tensors(path)
    names = json.loads(meta["encoders"])
    want = list(names if encoders is None else encoders)
    missing = [n for n in want if n not in names]
    if missing:
        raise KeyError(f"{path}: no joint bundle for {missing}; it holds {names}")
    out = {"bundles": {}, "made_by": json.loads(meta["made_by"])}
    for key in ("floors", "sigma", "beta"):
        out[key] = {n: v for n, v in json.loads(meta[key]).items() if n in want}
    for n in want:
        out["bundles"][n] = NystromBundle.from_tensors({k: tensors[f"{n}.{k}"] for k in ("Z", "alpha", "sigma", "k_rr")})
    return out
