"""The training machinery every run uses: a throttled progress bar, the non-finite loss guard,
the final weights validated, a checkpoint at the current step when the run is told to stop
(preemption), and the run's own statistics."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import RichProgressBar as LightningRichProgressBar
from pytorch_lightning.utilities.exceptions import SIGTERMException

from dl101.callbacks.outputs import log_metrics
from dl101.internals import validate_now


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
            raise NonFiniteLossError(non_finite_message(loss.item(), step, epoch, batch_idx))

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()


def non_finite_message(loss: float, step: int, epoch: int, batch_idx: int) -> str:
    return (
        f"The training loss became {loss} at step {step} (epoch {epoch}, batch {batch_idx}). "
        "Lower the learning rate (e.g. model.optimizer.lr=...) or clip gradients "
        "(trainer.gradient_clip_val=1.0)."
    )


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
            validate_now(trainer)


class SaveOnSignal(Callback):
    """A run told to stop (SIGTERM: what a cluster sends before it kills or preempts a job)
    saves `checkpoints/last.ckpt` at the current step, says how to resume, and stops; SIGUSR1
    saves it and carries on. Resumed with ckpt_path=last, the run continues from that very step.

    In a job that submitit runs (hydra/launcher=submitit_slurm), submitit's requeue signal
    (SIGUSR2: SLURM sends it `signal_delay_s` before the time limit) saves it too, and then
    submitit requeues the job, which resumes from it in its own folder. Submitit's handler would
    requeue and exit at once, in the middle of a step: it waits here for the end of the step."""

    def __init__(self) -> None:
        self.save_requested = False
        self.requeue: tuple[int, Callable] | None = None  # submitit's signal and its handler
        self.requeue_requested = False

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGUSR1, self.request_save)
        signum = submitit_requeue_signal()
        if signum is not None and callable(handler := signal.getsignal(signum)):
            self.requeue = (signum, handler)
            signal.signal(signum, self.request_requeue)

    def request_save(self, signum, frame) -> None:
        self.save_requested = True

    def request_requeue(self, signum, frame) -> None:
        self.requeue_requested = True
        name = signal.Signals(signum).name
        print(f"{name}: saving last.ckpt at the end of this step, then requeued", file=sys.stderr)

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.received_sigterm or self.save_requested or self.requeue_requested:
            self.save(trainer)

    def save(self, trainer: Trainer) -> None:
        path = last_checkpoint_path(trainer)
        trainer.save_checkpoint(path)
        step, requeue = trainer.global_step, self.requeue_requested
        self.save_requested = self.requeue_requested = False
        if trainer.received_sigterm:  # a preemption: SLURM requeues the job itself
            print(
                f"Stopped by SIGTERM at step {step}: saved {path}; resume with "
                f"ckpt_path={path} (a sweep: its command again, with hydra.sweep.dir)",
                file=sys.stderr,
            )
            raise SIGTERMException
        if requeue:
            self.hand_over_requeue(f"saved {path} at step {step}")
            return
        print(f"SIGUSR1: saved {path} at step {step}", file=sys.stderr)

    def hand_over_requeue(self, done: str) -> None:
        """Submitit's own handler, now that last.ckpt holds the current step: it requeues the
        job (`scontrol requeue`) and exits."""
        signum, handler = self.requeue
        self.restore_handlers()
        print(f"{signal.Signals(signum).name}: {done}; submitit requeues the job", file=sys.stderr)
        handler(signum, None)  # exits; on the other ranks of a DDP job it returns

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.requeue_requested:  # the signal came after the last training step
            self.save(trainer)
        self.restore_handlers()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception) -> None:
        self.restore_handlers()

    def restore_handlers(self) -> None:
        if signal.getsignal(signal.SIGUSR1) == self.request_save:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        if self.requeue is not None and signal.getsignal(self.requeue[0]) == self.request_requeue:
            signal.signal(*self.requeue)


def submitit_requeue_signal() -> int | None:
    """The signal on which submitit requeues the job it runs (SIGUSR2 unless the job's
    SUBMITIT_PREEMPT_SIGNAL names another); None outside a submitit job."""
    if "SUBMITIT_EXECUTOR" not in os.environ:  # set by submitit's job scripts
        return None
    import submitit

    return getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG)


def last_checkpoint_path(trainer: Trainer) -> Path:
    """Where the run keeps its latest weights: the `last` checkpoint callback's file."""
    for callback in trainer.checkpoint_callbacks:
        if callback.monitor is None and callback.filename == "last":
            return Path(callback.dirpath) / "last.ckpt"
    return Path(trainer.default_root_dir) / "checkpoints" / "last.ckpt"


class RunStats(Callback):
    """Log the parameter count and the wall time of fitting, for tables that compare runs."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        log_metrics(trainer, {
            "stats/params": float(sum(p.numel() for p in pl_module.parameters())),
            "stats/fit_seconds": time.perf_counter() - self.start,
        })  # fmt: skip
