"""What a dl101 checkpoint holds beyond weights (the run config), and reading it back."""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback


class RunConfigInCheckpoint(Callback):
    """Store the resolved run config in every checkpoint, so `evaluate` needs only the path."""

    key = "dl101_config"

    def __init__(self, cfg: DictConfig):
        self.config = OmegaConf.to_container(cfg, resolve=True)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[self.key] = self.config


def load_checkpoint(ckpt_path: str) -> dict:
    """The checkpoint's contents, or an error saying what is wrong with the path."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such file (give a .ckpt of a run)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"ckpt_path={ckpt_path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or RunConfigInCheckpoint.key not in checkpoint:
        raise ValueError(f"ckpt_path={ckpt_path}: not a dl101 checkpoint (it has no run config)")
    return checkpoint


def run_config(checkpoint: dict) -> DictConfig:
    """The training run's resolved config, stored by RunConfigInCheckpoint."""
    return OmegaConf.create(checkpoint[RunConfigInCheckpoint.key])


def restore_datamodule(checkpoint: dict, data_cfg: DictConfig):
    """The run's datamodule with the state it saved (standardization statistics, vocabulary)."""
    datamodule = instantiate(data_cfg)
    state = checkpoint.get(type(datamodule).__qualname__)
    if state:
        datamodule.load_state_dict(state)
    return datamodule
