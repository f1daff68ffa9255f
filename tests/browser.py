"""Headless Chromium for the report test: find it, install it from Debian where missing, take a screenshot.

    python tests/browser.py            # install Chromium if missing (apt-get, as root) and print its path

Only the Debian package is used (no browser download from a CDN). ``chromium()`` returns None with the reason
when no browser can be had, so the test skips saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CONSOLE_ERRORS = ("Uncaught", "ERROR:CONSOLE")


def _find() -> str | None:
    return next((path for path in map(shutil.which, NAMES) if path), None)


def chromium(install: bool = True) -> tuple[str | None, str]:
    """(path to a Chromium binary or None, the reason when None). Installs the Debian package if allowed."""
    path = _find()
    if path or not install:
        return path, "" if path else "no chromium on PATH"
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "no chromium on PATH, and installing it needs apt-get as root (apt-get install chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        proc = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env,
                              capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:  # stale package lists: refresh once
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            proc = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env,
                                  capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as err:
        return None, f"apt-get install chromium failed: {err}"
    path = _find()
    return path, "" if path else f"apt-get install chromium failed: {proc.stderr.strip()[-500:]}"


def screenshot(browser: str, page: Path, png: Path, budget_ms: int = 15000, size: str = "1400,1000"
               ) -> tuple[subprocess.CompletedProcess, float]:
    """Render ``page`` headless into ``png``; returns the process (stderr carries the console log) and seconds."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", f"--window-size={size}", f"--virtual-time-budget={budget_ms}",
           f"--screenshot={png}", page.resolve().as_uri()]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return proc, time.perf_counter() - start


def console_errors(log: str) -> list[str]:
    """Lines of a Chromium log that report a JavaScript error of the page."""
    return [line for line in log.splitlines() if any(mark in line for mark in CONSOLE_ERRORS)]


if __name__ == "__main__":
    found, why = chromium()
    print(found or why)
    sys.exit(0 if found else 1)
