"""Compose a run's config in-process, as `python -m dl101.train` would, for code that calls
`train()` directly (benchmarks, tests)."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from dl101 import CONFIG_DIR


def compose_config(
    output_dir: Path, overrides=(), config_name: str = "train", keep_hydra: bool = False
) -> DictConfig:
    """The composed config with this run's outputs (and `logs/`) under `output_dir`."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
        cfg.paths.log_dir = str(Path(output_dir) / "logs")
        if not keep_hydra:
            del cfg.hydra
    return cfg
