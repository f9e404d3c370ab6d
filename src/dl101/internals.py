"""Every use of a library's private behaviour, in one place, each with why and what it gains;
`tests/test_internals.py` names the API when an upgrade removes it. Nothing here is imported
at the package's top: each helper loads its library when used.

- Lightning's `LightningModule._current_fx_name`: set around every hook call, about 40 times a
  step; nn.Module's checks of a new attribute made that 0.2 ms of each step of the course's
  small models (measured on the course MLP: 2.7 -> 1.2 ms a step with the other savings of
  `dl101.callbacks.training`).
- Lightning's callback loop skips a hook that is not callable (`if callable(fn)` in
  `trainer/call.py`): hiding a callback's unused per-batch hooks saves about 4 us a hook and
  callback, 0.3 ms a step for ten callbacks.
- Lightning's fit loop validates when `trainer.check_val_every_n_epoch` is None and the run is
  told to stop: a run cut short by max_steps validates its final weights (no public switch).
- Hydra's basic sweeper's class path (`hydra._internal...`): the only sweeper that never draws
  the same values twice, so its jobs are named by their values alone.
- Lightning's training-epoch loop's batch progress (`fit_loop.epoch_loop.batch_progress`): a run
  resumed from a checkpoint saved mid-epoch (preemption) restores how many of the epoch's batches
  were done, but restarts the data from the epoch's first batch; the batch sampler skips those
  done, so the resumed run sees the batches the uninterrupted one would have.
- For a stacked group's members (`dl101.stacked.training`), each its own run under one
  trainer: Lightning's logger connector (`trainer._logger_connector.log_metrics`: the step and
  epoch a module's `self.log` gets), the count its steps are logged at
  (`fit_loop.epoch_loop._batches_that_stepped`, one less at an epoch's end), its checkpoint
  connector's `dump_checkpoint` (a member's checkpoint in the format of a separate run's),
  ModelCheckpoint's `_last_global_step_saved` (whether it saved), and torch's
  `SummaryWriter._get_file_writer` (one event holding all of a step's scalars: without
  TensorFlow, TensorBoard's writer opens its file once per event).
"""

from __future__ import annotations

LIGHTNING_HOOK_NAME = "_current_fx_name"
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
# Hooks Lightning calls on every batch.
BATCH_HOOKS = (
    "on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_validation_batch_start",
    "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_batch_start", "on_predict_batch_end",
)  # fmt: skip


class QuickHookName:
    """A LightningModule mixin: Lightning's hook-name attribute is set without nn.Module's
    checks for parameters and submodules."""

    def __setattr__(self, name: str, value) -> None:
        if name == LIGHTNING_HOOK_NAME:
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)


def hide_unused_batch_hooks(callbacks: list) -> list:
    """Callbacks whose per-batch hooks they do not override shadowed by None, which Lightning
    passes over instead of calling the base class's no-op in a profiler context."""
    from pytorch_lightning import Callback

    for callback in callbacks:
        for hook in BATCH_HOOKS:
            if getattr(type(callback), hook) is getattr(Callback, hook):
                setattr(callback, hook, None)
    return callbacks


def validate_now(trainer) -> None:
    """Stop the fit after this batch, validating first, whatever `check_val_every_n_epoch`."""
    trainer.should_stop = True
    trainer.check_val_every_n_epoch = None


def batches_done_this_epoch(trainer) -> int:
    """Training batches of the current epoch already done: those restored from a mid-epoch
    checkpoint when the data is iterated on a resume, 0 at a fresh epoch's start."""
    if trainer is None or not trainer.training:
        return 0
    return trainer.fit_loop.epoch_loop.batch_progress.current.ready


def log_as_module(trainer, metrics: dict[str, float], step: int | None = None) -> None:
    """Scalars to the trainer's loggers as a module's `self.log` sends them: at the logged step
    with the epoch (`step` given: at that step, without the epoch, as callbacks log)."""
    trainer._logger_connector.log_metrics(metrics, step=step)


def logged_step(trainer) -> int:
    """The step Lightning logs a module's scalars at now (at an epoch's end: this minus 1)."""
    return trainer.fit_loop.epoch_loop._batches_that_stepped


def dump_checkpoint(trainer, weights_only: bool) -> dict:
    """What `trainer.save_checkpoint` would write now."""
    return trainer._checkpoint_connector.dump_checkpoint(weights_only)


def last_saved_step(checkpoint_callback) -> int:
    """The global step a ModelCheckpoint last saved at."""
    return checkpoint_callback._last_global_step_saved


def append_records(writer, records: bytes) -> None:
    """Framed events (`dl101.results.event_files.scalar_records`) appended to a SummaryWriter's
    event file in one write, after what its own writer thread holds: tensorboard's writer
    without TensorFlow opens the file once per event."""
    file_writer = writer._get_file_writer()
    file_writer.flush()  # its own events first (the file's first write truncates it)
    with open(file_writer.event_writer._file_name, "ab") as file:
        file.write(records)
