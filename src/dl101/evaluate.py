"""Evaluate a checkpoint on the official test set; the model and data configs come from it."""

from __future__ import annotations

import warnings

import hydra
from omegaconf import DictConfig, OmegaConf

from dl101 import CONFIG_DIR
from dl101.errors import error_boundary


def evaluate(cfg: DictConfig) -> dict[str, float]:
    import pytorch_lightning as pl  # torch and Lightning: at run time, not for --help
    from hydra.utils import instantiate

    from dl101.data import model_args
    from dl101.results.final_metrics import print_summary
    from dl101.run.checkpoints import (
        load_checkpoint,
        resolve_ckpt_path,
        restore_datamodule,
        run_config,
    )
    from dl101.run.config import absolute_data_paths
    from dl101.run.training import instantiate_group

    # Testing only: the checkpoint's training callbacks are not needed to restore its weights.
    warnings.filterwarnings("ignore", ".*callbacks used to create the checkpoint need.*")
    ckpt_path = resolve_ckpt_path(
        cfg.ckpt_path, cfg.paths.log_dir, cfg.train_task_name, cfg.experiment_name
    )
    checkpoint = load_checkpoint(ckpt_path)
    run = run_config(checkpoint)
    # Its data, with the paths given here (+data.test_root=...) made absolute as training's were.
    data_cfg = absolute_data_paths(OmegaConf.merge(run.data, cfg.get("data") or {}))
    datamodule = restore_datamodule(checkpoint, data_cfg)
    model = instantiate(run.model, **model_args(datamodule, run.model))
    loggers = instantiate_group(cfg.get("logger"), "logger")
    trainer: pl.Trainer = instantiate(cfg.trainer, logger=loggers or False)
    trainer.test(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    print_summary(metrics, cfg.paths.output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="eval")
def main(cfg: DictConfig) -> None:
    with error_boundary():
        evaluate(cfg)


if __name__ == "__main__":
    main()
