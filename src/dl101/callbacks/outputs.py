"""Where callbacks send what they make: every logger's scalars, TensorBoard's writers, and the
run's `figures/` folder."""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning import Trainer
from pytorch_lightning.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter


def log_metrics(trainer: Trainer, metrics: dict[str, float], step: int | None = None) -> None:
    """Scalars to every logger of the run, at `step` (default: the current global step)."""
    for logger in trainer.loggers:
        logger.log_metrics(metrics, step=trainer.global_step if step is None else step)


def tensorboard_writers(trainer: Trainer) -> list[SummaryWriter]:
    """The SummaryWriter of each TensorBoard logger, for images, figures and text."""
    return [
        logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)
    ]


def figures_dir(trainer: Trainer) -> Path:
    """`<run>/figures/`, created on first use."""
    path = Path(trainer.default_root_dir) / "figures"
    path.mkdir(parents=True, exist_ok=True)
    return path
