"""Atomic, self-describing file I/O shared by every stage.

Every write goes to a temporary file in the target folder and is renamed into place, so a crash or a
kill never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from safetensors import SafetensorError, safe_open

if TYPE_CHECKING:
    import torch


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_tensors(path: str | os.PathLike, tensors: Mapping[str, torch.Tensor],
                 metadata: Mapping[str, Any] | None = None) -> None:
    """Save tensors to safetensors; metadata values are stored as strings (JSON for non-strings)."""
    from safetensors.torch import save_file  # torch only where tensors are read or written
    meta = {k: v if isinstance(v, str) else json.dumps(v, sort_keys=True) for k, v in (metadata or {}).items()}
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


class CacheError(ValueError):
    """A cached file is unreadable or was made for another request."""


def load_tensors(path: str | os.PathLike, expect: Mapping[str, Any] | None = None
                 ) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Load a safetensors file and its metadata; refuse it if ``expect`` does not match its metadata."""
    from safetensors.torch import load_file
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CacheError(f"{path}: not a readable safetensors file ({err}); delete it to rebuild") from err
    for key, want in (expect or {}).items():
        want_s = want if isinstance(want, str) else json.dumps(want, sort_keys=True)
        if meta.get(key) != want_s:
            raise CacheError(f"{path}: metadata '{key}' is {meta.get(key)!r}, this request needs {want_s!r}; "
                             "the cache was made for another request, delete it to rebuild")
    return tensors, meta


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def checked_file(path: str | os.PathLike, key: str, what: str, sha256: str | None = None) -> Path:
    """``path``, refused unless it is a file (and, with ``sha256``, byte-identical to the official one); the
    errors name the config key ``key`` and ``what`` the file is."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config key {key!r}: {what} {path} not found")
    digest = file_sha256(path)
    if sha256 is not None and digest != sha256:
        raise ValueError(f"config key {key!r}: {path} has sha256 {digest}, not the official {sha256}")
    return path
