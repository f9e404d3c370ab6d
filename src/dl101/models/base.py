"""What every model shares (optimizer from config, training-loss logging) and what every
classifier shares (loss, per-stage accuracy)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from pytorch_lightning import LightningModule
from torch import Tensor
from torchmetrics import MaxMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from dl101.errors import ConfigError
from dl101.internals import QuickHookName


class Model(QuickHookName, LightningModule):
    """`optimizer` and `scheduler` are `_partial_` configs: called with the parameters (and the
    optimizer) they return the real objects, so `model.optimizer.weight_decay=1e-3` is an override.

    What a run of the model is judged by, declared here and by each subclass, which dl101 reads
    instead of any list of models: `monitor` (the metric its best checkpoint is chosen by, and
    whether higher or lower is better), `directions` (for each metric family, the last part of a
    tag such as `val/acc`: "max" or "min"; a summary's best, sorting and verdicts follow it),
    `judged_by` (the final metrics HPARAMS shows beside its runs) and `charts` (its Custom
    Scalars: train against val). HPARAMS's columns are its config's own scalar arguments.

    Training scalars cost little per step: `log_training` adds the loss to an epoch mean (a
    torchmetrics MeanMetric, logged as `train/loss_epoch`) and calls `self.log` only on the steps
    the loggers write (`trainer.log_every_n_steps`). Each `self.log` costs about 0.1-0.4 ms, more
    than a whole step of the course's small models.
    """

    monitor = ("val/loss", "min")
    directions = {"loss": "min", "loss_epoch": "min"}
    judged_by = ("val/loss", "test/loss", "train/loss_epoch")
    charts = {"loss": ["Multiline", [r"^(train/loss_epoch|train_eval/loss|val/loss)$"]]}
    # Why the jobs of a sweep that train this model cannot train together as one stacked model
    # (hydra/launcher=stacked, dl101.stacked.grouping); None where they can.
    not_stacked_because: str | None = (
        "not a classifier: a stacked group trains classifiers (a cross-entropy loss and an "
        "accuracy per member)"
    )

    def __init__(
        self,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        scheduler_interval: str = "epoch",
    ):
        super().__init__()
        lr = getattr(optimizer, "keywords", {}).get("lr")
        if lr is not None and not lr > 0:
            raise ConfigError(f"model.optimizer.lr={lr}: the learning rate must be > 0")
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.scheduler_interval = scheduler_interval
        self.train_loss_mean = MeanMetric(nan_strategy="disable")  # no NaN check, no GPU sync

    def is_logging_step(self) -> bool:
        """True on the steps whose scalars the loggers write (Lightning counts them from 1)."""
        trainer = self.trainer
        return bool(trainer.fast_dev_run) or (
            trainer.log_every_n_steps > 0
            and (self.global_step + 1) % trainer.log_every_n_steps == 0
        )

    def log_training(self, loss: Tensor, **step_scalars: Tensor) -> None:
        """The loss into its epoch mean every step; the step scalars on logging steps only."""
        self.train_loss_mean.update(loss.detach())
        if self.is_logging_step():
            self.log("train/loss", loss, prog_bar=True)
            for name, value in step_scalars.items():
                self.log(name, value)

    def on_train_epoch_end(self) -> None:
        # A run resumed from a checkpoint saved at an epoch's end replays that end with no
        # batch of its own: the epoch's mean was logged before the run stopped.
        if self.train_loss_mean.update_called:
            self.log("train/loss_epoch", self.train_loss_mean.compute())
        self.train_loss_mean.reset()

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer=optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }


class Classifier(Model):
    """Subclasses build layers in `__init__` and define `forward(x) -> logits (B, C)`."""

    monitor = ("val/acc", "max")
    directions = {**Model.directions, "acc": "max", "acc_best": "max"}
    judged_by = ("val/acc", "val/acc_best", "val/loss", "test/acc", "test/loss",
                 "train/loss_epoch", "train_eval/acc")  # fmt: skip
    charts = {"accuracy": ["Multiline", [r"^(train|train_eval|val)/acc$"]], **Model.charts}
    not_stacked_because = None

    def __init__(self, num_classes: int, **model_args):
        super().__init__(**model_args)
        # One metric object per stage: sharing one would mix train and val counts.
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        # The whole training set in eval mode (data.eval_train_set), as the course's curves show.
        self.train_eval_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc_best = MaxMetric()

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.train_acc.update(logits.detach(), y)  # update only: forward would also score the batch
        self.log_training(loss)
        return loss

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self.train_acc.update_called:  # not at an epoch's end replayed on a resume
            self.log("train/acc", self.train_acc.compute())
        self.train_acc.reset()

    def _evaluate(self, batch, stage: str, accuracy: MulticlassAccuracy) -> None:
        x, y = batch
        logits = self(x)
        accuracy(logits, y)
        loss = F.cross_entropy(logits, y)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", add_dataloader_idx=False)
        self.log(f"{stage}/acc", accuracy, prog_bar=stage != "train_eval", add_dataloader_idx=False)

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        if dataloader_idx == 0:
            self._evaluate(batch, "val", self.val_acc)
        else:
            self._evaluate(batch, "train_eval", self.train_eval_acc)

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test", self.test_acc)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best(self.val_acc.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)
