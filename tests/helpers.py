"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys

from dl101 import PROJECT_ROOT
from dl101.config import compose_config

__all__ = ["QUIET", "compose_config", "run_module"]

# Fast settings for in-process runs: no progress bar redraws, no model summary.
QUIET = ["~callbacks.progress_bar", "~callbacks.model_summary"]


def run_module(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m <args>` as a user types it, from this checkout; fails the test on an error."""
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
