"""Hyper-parameters for TensorBoard's HPARAMS tab, declared with the metrics that judge them."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from torch.utils.tensorboard.summary import hparams

# Config sections that describe the experiment; paths, hydra and callbacks do not.
HPARAM_SECTIONS = ("model", "data", "trainer", "seed", "experiment_name")
# Metrics the HPARAMS tab shows beside each run; their values are the runs' own scalars.
JUDGED_BY = (
    "val/acc", "val/acc_best", "val/loss", "test/acc", "test/loss", "train/loss_epoch",
    "train_eval/acc", "val/mse", "test/mse", "val/ppl", "test/ppl",
)  # fmt: skip


def flat_hparams(cfg: DictConfig) -> dict[str, int | float | str | bool]:
    """Flatten the experiment's config to `model/optimizer/lr`-style keys with scalar values."""
    container = OmegaConf.to_container(cfg, resolve=True)
    flat: dict[str, int | float | str | bool] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}/{key}" if prefix else str(key), inner)
        elif isinstance(value, int | float | str | bool):
            flat[prefix] = value
        else:  # None and lists: shown as text
            flat[prefix] = str(value)

    for section in HPARAM_SECTIONS:
        if section in container:
            walk(section, container[section])
    return flat


@rank_zero_only  # the other DDP processes have no writer
def log_hparams(loggers: list[Logger], cfg: DictConfig) -> None:
    params = flat_hparams(cfg)
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            # Lightning would also write placeholder values at step 0; declaring only the
            # metric names lets the tab read each run's real final scalars.
            writer = logger.experiment._get_file_writer()
            for summary in hparams(params, dict.fromkeys(JUDGED_BY, 0.0)):
                writer.add_summary(summary)
