"""Evaluate a checkpoint on the official test set; the model and data configs come from it."""

from __future__ import annotations

import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dl101 import CONFIG_DIR
from dl101.callbacks import RunConfigInCheckpoint
from dl101.train import instantiate_group, print_summary

# Testing only: the checkpoint's training callbacks are not needed to restore its weights.
warnings.filterwarnings("ignore", ".*callbacks used to create the checkpoint need to be provided.*")


def load_run_config(ckpt_path: str) -> DictConfig:
    """The training run's resolved config, stored in the checkpoint by RunConfigInCheckpoint."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such file (give a .ckpt of a run)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"ckpt_path={ckpt_path}: not a readable checkpoint ({err})") from err
    if not isinstance(checkpoint, dict) or RunConfigInCheckpoint.key not in checkpoint:
        raise ValueError(f"ckpt_path={ckpt_path}: not a dl101 checkpoint (it has no run config)")
    return OmegaConf.create(checkpoint[RunConfigInCheckpoint.key])


def evaluate(cfg: DictConfig) -> dict[str, float]:
    run = load_run_config(cfg.ckpt_path)
    data_cfg = OmegaConf.merge(run.data, cfg.get("data") or {})
    datamodule = instantiate(data_cfg)
    model = instantiate(run.model)
    loggers = instantiate_group(cfg.get("logger"))
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    trainer.test(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    print_summary(metrics, cfg.paths.output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    main()
