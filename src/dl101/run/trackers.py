"""Experiment trackers beside TensorBoard: MLflow on its local file store, and the end of a
Weights & Biases run."""

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
