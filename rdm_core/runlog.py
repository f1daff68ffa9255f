"""Per-rule logging for the workflow scripts: everything a step prints goes to its log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Iterator

log = logging.getLogger("rdm")


@contextlib.contextmanager
def rule_log(path: str | os.PathLike, threads: int = 1) -> Iterator[logging.Logger]:
    """Send logging, warnings and stderr (tqdm bars) to ``path``; record failures with their traceback.

    Also pins torch to ``threads`` so parallel jobs share the cores instead of fighting over them: now if
    the script has imported it, else through ``OMP_NUM_THREADS`` for a later import (a report script
    that never needs torch does not pay the 2 s of importing it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    else:
        os.environ["OMP_NUM_THREADS"] = str(threads)
    with open(path, "w", buffering=1) as stream, contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        start = time.perf_counter()
        try:
            yield log
        except BaseException:
            stream.write(traceback.format_exc())
            raise
        finally:
            log.info("finished in %.1f s", time.perf_counter() - start)
            root.removeHandler(handler)


def job_device(requested: str) -> str:
    """The torch device a rule computes on: ``requested`` (its `compute:` job's device), or the CPU, with a
    warning in the log, when that names CUDA and this machine has none."""
    import torch

    if requested.startswith("cuda") and not torch.cuda.is_available():
        log.warning("compute device %s asked for, but CUDA is not available here: running on the CPU", requested)
        return "cpu"
    return requested
