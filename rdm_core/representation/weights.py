"""Offline resolution of the paper encoders' pretrained weights.

A spec declares where its weights come from in ``spec.options["weights"]``:

- one of ``repo`` (a Hugging Face repo id), ``url`` (a direct download) or ``package`` (a package
  that fetches its own weights: dreamsim);
- ``file`` (one weights file), or ``files`` (names that must all exist in a weights directory);
- optionally ``subfolder`` (inside the HF repo) and ``allow`` (download patterns for a directory).

At run time weights are only looked up, never downloaded: in ``<weights_dir>/<encoder>/`` (where
:func:`fetch_weights` puts them), then in the local Hugging Face cache (``repo``) or the torch hub
cache (``url``). Downloading is the job of the ``fetch_weights`` Snakemake rule, run where there is
network.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..io import file_sha256
from .spec import EncoderSpec

FETCH_HINT = ("Nothing is downloaded at run time: fetch it first with the Snakemake rule `fetch_weights` "
              "(a local rule; on a login node with network access run "
              "`snakemake --cores 1 --configfile=config/paper.yaml fetch_all_weights`).")
DEFAULT_ALLOW = ("*.json", "*.safetensors", "*.py")


class MissingWeightsError(FileNotFoundError):
    """An encoder's pretrained weights are not available locally."""

    def __init__(self, spec: EncoderSpec, expected: str, searched: list[str]):
        self.encoder, self.checkpoint, self.expected = spec.name, spec.checkpoint, expected
        where = "; ".join(searched) if searched else "no weights_dir given and no cache holds it"
        super().__init__(f"encoder '{spec.name}' (checkpoint {spec.checkpoint}): weights not found. "
                         f"Expected {expected} (searched: {where}). {FETCH_HINT}")


def _source(spec: EncoderSpec) -> dict:
    src = spec.options.get("weights")
    if not src or not any(k in src for k in ("repo", "url", "package")) or \
            ("file" in src) == ("files" in src):
        raise ValueError(f"encoder '{spec.name}' declares no pretrained weights source "
                         "(options['weights'] with repo/url/package and file or files)")
    return src


def _rel(src: dict) -> str:
    """Path of the weights relative to the encoder's folder: [subfolder/]file, or subfolder."""
    parts = [p for p in (src.get("subfolder"), src.get("file")) if p]
    return "/".join(parts)


def _expected(src: dict) -> str:
    if "file" in src:
        return f"file '{src['file']}'"
    return f"a directory holding {', '.join(src['files'])}"


def _complete(path: Path, src: dict) -> bool:
    if "file" in src:
        return path.is_file()
    return path.is_dir() and all((path / f).exists() for f in src["files"])


def expected_path(spec: EncoderSpec, weights_dir: str | os.PathLike) -> Path:
    """Where :func:`fetch_weights` puts an encoder's weights: ``<weights_dir>/<name>/[subfolder/][file]``."""
    rel = _rel(_source(spec))
    base = Path(weights_dir) / spec.name
    return base / rel if rel else base


def _hf_cached(src: dict, hf_cache: str | os.PathLike | None) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    prefix = f"{src['subfolder']}/" if src.get("subfolder") else ""
    names = [src["file"]] if "file" in src else list(src["files"])
    found = [try_to_load_from_cache(src["repo"], prefix + n, cache_dir=hf_cache) for n in names]
    if not all(isinstance(p, str) for p in found):
        return None
    return Path(found[0]) if "file" in src else Path(found[0]).parent


def resolve_weights(spec: EncoderSpec, weights_dir: str | os.PathLike | None = None,
                    hf_cache: str | os.PathLike | None = None) -> str:
    """Local path of an encoder's weights (a file, or a directory for HF/diffusers/dreamsim models).

    Raises :class:`MissingWeightsError` at once when no local copy exists; never downloads.
    """
    src = _source(spec)
    searched = []
    if weights_dir is not None:
        path = expected_path(spec, weights_dir)
        if _complete(path, src):
            return str(path)
        searched.append(str(path))
    if "repo" in src:
        from huggingface_hub import constants

        cached = _hf_cached(src, hf_cache)
        if cached is not None:
            return str(cached)
        searched.append(f"Hugging Face cache {hf_cache or constants.HF_HUB_CACHE} for {src['repo']}"
                        + (f"/{src['subfolder']}" if src.get("subfolder") else ""))
    if "url" in src:
        import torch.hub

        path = Path(torch.hub.get_dir()) / "checkpoints" / src["file"]
        if path.is_file():
            return str(path)
        searched.append(str(path))
    raise MissingWeightsError(spec, _expected(src), searched)


def fetch_weights(spec: EncoderSpec, dest: str | os.PathLike) -> str:
    """Download an encoder's weights into ``<dest>/<name>/`` (network needed; only the
    ``fetch_weights`` rule calls this) and return the resolved local path."""
    src = _source(spec)
    if not str(dest):
        raise ValueError("fetch_weights needs a destination weights directory")
    target = expected_path(spec, dest)
    root = Path(dest) / spec.name
    root.mkdir(parents=True, exist_ok=True)
    if "repo" in src:
        from huggingface_hub import hf_hub_download, snapshot_download

        if "file" in src:
            hf_hub_download(src["repo"], src["file"], subfolder=src.get("subfolder"), local_dir=root)
        else:
            prefix = f"{src['subfolder']}/" if src.get("subfolder") else ""
            snapshot_download(src["repo"], local_dir=root,
                              allow_patterns=[prefix + p for p in src.get("allow", DEFAULT_ALLOW)])
    elif "url" in src:
        import torch.hub

        tmp = target.with_name(target.name + ".part")
        torch.hub.download_url_to_file(src["url"], str(tmp), progress=True)
        tmp.replace(target)
    else:  # package that downloads its own weights
        import_dreamsim()(pretrained=True, device="cpu", cache_dir=str(target),
                          dreamsim_type=src.get("type", "ensemble"))
    return resolve_weights(spec, dest)


def import_dreamsim():
    """The ``dreamsim.dreamsim`` constructor, or a clear error when the optional package is missing."""
    try:
        from dreamsim import dreamsim
    except ImportError as err:
        raise ImportError("encoder 'dreamsim' needs the optional package `dreamsim` (>=0.2, with peft): "
                          "pip install dreamsim") from err
    return dreamsim


def weights_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a weights file, read in chunks; for a directory, of its sorted
    (relative path, file digest) list, skipping hidden entries such as download metadata."""
    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            rel = f.relative_to(path)
            if any(part.startswith(".") for part in rel.parts):
                continue
            h.update(f"{rel.as_posix()}\t{weights_sha256(f, chunk)}\n".encode())
        return h.hexdigest()
    return file_sha256(path, chunk)
