"""One training run from a composed config: instantiate data, model, callbacks, loggers and
trainer, fit, then test the best checkpoint. `dl101.train` is its command line; benchmarks,
tests and notebooks call `train(cfg)` directly."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dl101.callbacks import skip_unused_batch_hooks
from dl101.checkpoints import (
    RNGStateInCheckpoint,
    RunConfigInCheckpoint,
    load_checkpoint,
    resolve_ckpt_path,
)
from dl101.data import model_args
from dl101.hparams import log_hparams
from dl101.summary import print_summary
from dl101.sweep_names import FAILED_MARKER
from dl101.threads import jobs_side_by_side, set_threads

log = logging.getLogger(__name__)


def quiet_known_warnings() -> None:
    """Silence warnings that hold nothing a user can act on, for the runs of this process."""
    # Batches come from in-memory tensors, so worker processes would only add overhead.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # Lightning's own use of a deprecated torch API.
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*")


def instantiate_group(group: DictConfig | None, name: str) -> list:
    """Instantiate every non-null entry of a config group such as `callbacks` or `logger`."""
    entries = {key: entry for key, entry in (group or {}).items() if entry is not None}
    for key, entry in entries.items():
        if "_target_" not in entry:  # only overrides of an entry whose option is not selected
            raise ValueError(
                f"{name}.{key} has no _target_: it sets {sorted(entry)} of an entry that the "
                f"chosen {name} option does not have (an experiment's adjustment, with "
                f"{name}=none?). Add the entry's _target_ or drop it: ~{name}.{key}"
            )
    return [instantiate(entry) for entry in entries.values()]


def no_best_reason(trainer: pl.Trainer) -> str:
    """Why a fit kept no best checkpoint, in the setting's own words."""
    checkpoint = trainer.checkpoint_callback
    if trainer.fast_dev_run:
        return "fast_dev_run saves none"
    if checkpoint is None:
        return "no ModelCheckpoint: callbacks.model_checkpoint is off"
    if checkpoint.save_top_k == 0:
        return "callbacks.model_checkpoint.save_top_k=0: only last.ckpt is kept"
    if not trainer.enable_validation:
        return "no validation: limit_val_batches=0 or no validation data"
    return f"{checkpoint.monitor} was never logged"


def continue_tensorboard(logger_cfg: DictConfig | None, step: int) -> DictConfig | None:
    """TensorBoard loggers that hide what the killed run logged after its checkpoint's `step`
    (SummaryWriter's purge_step): the resumed run's curve carries on without a doubled stretch."""
    tensorboard = "pytorch_lightning.loggers.TensorBoardLogger"
    purge = {
        key: {"purge_step": step + 1}
        for key, entry in (logger_cfg or {}).items()
        if entry is not None and entry.get("_target_") == tensorboard
    }
    if not purge:
        return logger_cfg
    # A plain copy first: struct configs refuse the new key.
    return OmegaConf.merge(OmegaConf.to_container(logger_cfg, resolve=True), purge)


def mark_failed(output_dir: str | Path, err: Exception) -> None:
    """A failed sweep job's reason, in its folder, where the sweep's summary lists it."""
    Path(output_dir).mkdir(parents=True, exist_ok=True)  # it may have failed before starting
    (Path(output_dir) / FAILED_MARKER).write_text(f"{type(err).__name__}: {err}\n")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint on the official test set; return all final metrics."""
    quiet_known_warnings()
    # A bad ckpt_path is refused before anything runs.
    ckpt_path = resolve_ckpt_path(
        cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name, cfg.get("experiment_name")
    )
    logger_cfg = cfg.get("logger")
    run_folder = Path(cfg.paths.output_dir).resolve()
    if ckpt_path and Path(ckpt_path).resolve().parent.parent == run_folder:
        # Resumed in its own folder (hydra.run.dir): the checkpoints there are this run's.
        warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")
        logger_cfg = continue_tensorboard(logger_cfg, load_checkpoint(ckpt_path)["global_step"])
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, **model_args(datamodule))
    set_threads(cfg, model, datamodule)
    if cfg.get("compile"):
        model = torch.compile(model)  # Lightning unwraps it and compiles the *_step methods
    callback_cfg = cfg.get("callbacks")
    if (jobs_side_by_side() or 1) > 1 and (callback_cfg or {}).get("progress_bar"):
        # Jobs side by side share one terminal: their bars would overwrite each other.
        callback_cfg = OmegaConf.merge(callback_cfg, {"progress_bar": {"refresh_rate": 0}})
    callbacks = [
        *instantiate_group(callback_cfg, "callbacks"),
        RunConfigInCheckpoint(cfg),
        RNGStateInCheckpoint(),
    ]
    loggers = instantiate_group(logger_cfg, "logger")
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=skip_unused_batch_hooks(callbacks), logger=loggers or False
    )
    log_hparams(loggers, cfg)

    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.get("test"):
        if not best:
            log.info(f"No best checkpoint ({no_best_reason(trainer)}): testing the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
    if trainer.is_global_zero:
        print_summary(metrics, cfg.paths.output_dir, best or None)
    return metrics
