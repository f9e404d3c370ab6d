"""Callbacks the course needs beyond Lightning's own."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning import Callback, LightningModule, Trainer
from rich import print as rprint
from torchmetrics.classification import MulticlassAccuracy


class RunConfigInCheckpoint(Callback):
    """Store the resolved run config in every checkpoint, so `evaluate` needs only the path."""

    key = "dl101_config"

    def __init__(self, cfg: DictConfig):
        self.config = OmegaConf.to_container(cfg, resolve=True)

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[self.key] = self.config


class TestSetCurve(Callback):
    """The course's curve: official test-set accuracy each time validation runs.

    The course prints it every 500 iterations. It is logged as `test_curve/*` and never used for
    model selection, which stays on `val/acc`.
    """

    def __init__(self, num_classes: int = 10):
        self.num_classes = num_classes

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        accuracy = MulticlassAccuracy(self.num_classes, average="micro").to(pl_module.device)
        loss_sum, count = torch.zeros((), device=pl_module.device), 0
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            for x, y in trainer.datamodule.test_dataloader():
                x, y = x.to(pl_module.device), y.to(pl_module.device)
                logits = pl_module(x)
                accuracy.update(logits, y)
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                count += len(y)
        pl_module.train(was_training)
        metrics = {
            "test_curve/acc": accuracy.compute().item(),
            "test_curve/loss": (loss_sum / count).item(),
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        train_loss = trainer.callback_metrics.get("train/loss", float("nan"))
        rprint(
            f"Iteration: {trainer.global_step}. Train loss: {float(train_loss):.4f}. "
            f"Test accuracy: {100 * metrics['test_curve/acc']:.2f} %"
        )
