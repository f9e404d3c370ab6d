"""Experiment trackers beside TensorBoard: MLflow on its local file store, the end of a Weights &
Biases run, and a run's provenance given to each logger in its own form."""

from __future__ import annotations

import os

from pytorch_lightning.loggers import MLFlowLogger


class MLflowFileStoreLogger(MLFlowLogger):
    """Lightning's MLFlowLogger on a `file:` store. MLflow 3 asks for an opt-in to its file
    store (it prefers a database); dl101 opts in: nothing to migrate or lock, and sweep jobs
    side by side write their own files."""

    def __init__(self, *args, **kwargs):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        super().__init__(*args, **kwargs)


def finish_trackers(loggers: list) -> None:
    """End each W&B run with its training: W&B keeps a run open until `finish()`, and the next
    job of a sweep in this process would log into it."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()


def send_provenance(loggers: list, lines: list[str], tags: dict[str, str]) -> None:
    """A run's provenance: TensorBoard's TEXT tab (`provenance`), MLflow's run tags, W&B's run
    config (its tags are short labels: the commit and dl101's version)."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text("provenance", "\n".join(f"    {line}" for line in lines))
        elif isinstance(logger, MLFlowLogger):
            for key, value in tags.items():
                logger.experiment.set_tag(logger.run_id, key, value[:5000])  # MLflow's limit
        elif isinstance(logger, WandbLogger):
            logger.experiment.config.update({"provenance": tags}, allow_val_change=True)
            commit = tags.get("mlflow.source.git.commit", "")[:12]
            labels = [f"git:{commit}" if commit else "", f"dl101:{tags['dl101.version.dl101']}"]
            logger.experiment.tags = (*logger.experiment.tags, *filter(None, labels))
