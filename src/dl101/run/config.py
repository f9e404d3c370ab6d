"""A run's config: composed in-process, as `python -m dl101.train` would, for code that calls
`train()` directly (benchmarks, tests); and its data's paths made absolute when a run starts."""

from __future__ import annotations

import os
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


def absolute_data_paths(data_cfg: DictConfig | None) -> DictConfig | None:
    """The data config with the paths its datamodule declares (`DataModule.paths`: a folder of
    pictures, a text file) made absolute against the working directory: a checkpoint then finds
    its data from any folder, and evaluate, predict and sample work wherever they are started."""
    from dl101.errors import locate

    if not data_cfg or "_target_" not in data_cfg:
        return data_cfg
    for key in getattr(locate(data_cfg._target_, "data._target_"), "paths", ()):
        value = data_cfg.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            with open_dict(data_cfg):
                data_cfg[key] = os.path.abspath(value)
    return data_cfg
