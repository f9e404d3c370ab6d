"""The training machinery every run uses: hidden no-op hooks, a throttled progress bar, the
non-finite loss guard and the run's own statistics."""

from __future__ import annotations

import time

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import RichProgressBar as LightningRichProgressBar

from dl101.callbacks.outputs import log_metrics

# Hooks Lightning calls on every batch. It skips a callback's hook that is not callable.
BATCH_HOOKS = (
    "on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_validation_batch_start",
    "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_batch_start", "on_predict_batch_end",
)  # fmt: skip


def skip_unused_batch_hooks(callbacks: list[Callback]) -> list[Callback]:
    """Hide the per-batch hooks a callback does not override from Lightning.

    Lightning calls every hook of every callback, each in a profiler context named after the
    callback's state key: about 4 us each, 0.3 ms per step for ten callbacks doing nothing, more
    than a whole step of the course's small models. An instance attribute of None shadows the
    no-op method and Lightning passes over it (`if callable(fn)`).
    """
    for callback in callbacks:
        for hook in BATCH_HOOKS:
            if getattr(type(callback), hook) is getattr(Callback, hook):
                setattr(callback, hook, None)
    return callbacks


class RichProgressBar(LightningRichProgressBar):
    """Lightning's rich bar, updated every `every_n_batches` training batches instead of every
    one (each update cost about 0.1 ms); `refresh_rate` stays its redraws per second."""

    def __init__(self, every_n_batches: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.every_n_batches = every_n_batches

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = batch_idx + 1
        if done % self.every_n_batches == 0 or done == self.total_train_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class FiniteLossGuard(Callback):
    """Stop at the first non-finite training loss, naming the step and what usually fixes it.

    Losses are kept as tensors and checked together every `check_every_n_steps` steps and
    before every validation and epoch end, where checkpoints are saved: no NaN weights become
    `last` or `best`, and a GPU is not made to wait for the host every step.
    """

    def __init__(self, check_every_n_steps: int = 50):
        self.check_every_n_steps = check_every_n_steps
        self.pending: list[tuple[int, int, int, torch.Tensor]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            step = (trainer.global_step, trainer.current_epoch, batch_idx)
            self.pending.append((*step, loss.detach()))
        if len(self.pending) >= self.check_every_n_steps:
            self.check()

    def check(self) -> None:
        if not self.pending:
            return
        losses = torch.stack([loss.reshape(()) for *_, loss in self.pending])
        bad = (~torch.isfinite(losses)).nonzero()
        pending, self.pending = self.pending, []
        if len(bad):
            step, epoch, batch_idx, loss = pending[int(bad[0])]
            raise NonFiniteLossError(
                f"The training loss became {loss.item()} at step {step} (epoch {epoch}, "
                f"batch {batch_idx}). Lower the learning rate (e.g. model.optimizer.lr=...) or "
                "clip gradients (trainer.gradient_clip_val=1.0)."
            )

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()


class ValidateFinalWeights(Callback):
    """Validate the final weights of a run that stops in the middle of an epoch, or between two
    scheduled validations (`trainer.max_steps`, `max_time`): it then has `val/*` metrics,
    `val/acc_best` and a best checkpoint like any other run.

    At the last step it asks Lightning to stop, which validates inside the fit (so checkpoints
    are saved), whatever `check_val_every_n_epoch` would say.
    """

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        last_step = 0 < trainer.max_steps <= trainer.global_step
        if (last_step or trainer.should_stop) and not trainer.sanity_checking:
            trainer.should_stop = True
            trainer.check_val_every_n_epoch = None  # validation is due now, not at an epoch


class RunStats(Callback):
    """Log the parameter count and the wall time of fitting, for tables that compare runs."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        log_metrics(trainer, {
            "stats/params": float(sum(p.numel() for p in pl_module.parameters())),
            "stats/fit_seconds": time.perf_counter() - self.start,
        })  # fmt: skip
