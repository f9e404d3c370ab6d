"""Helpers shared by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from dl101 import CONFIG_DIR, PROJECT_ROOT

# Fast settings for in-process runs: no progress bar redraws, no model summary.
QUIET = ["~callbacks.progress_bar", "~callbacks.model_summary"]


def compose_config(
    tmp_path: Path, overrides=(), config_name: str = "train", keep_hydra: bool = False
) -> DictConfig:
    """Compose as `python -m dl101.train` would, with run outputs under tmp_path."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path)
        cfg.paths.log_dir = str(tmp_path / "logs")
        if not keep_hydra:
            del cfg.hydra
    return cfg


def run_module(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`python -m <args>` as a user types it, from this checkout; fails the test on an error."""
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
