"""One training run from a composed config: instantiate data, model, callbacks, loggers and
trainer, fit, then test the best checkpoint. `dl101.train` is its command line; benchmarks,
tests and notebooks call `train(cfg)` directly."""

from __future__ import annotations

import logging
import signal
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.plugins.environments import SLURMEnvironment
from pytorch_lightning.utilities.exceptions import SIGTERMException

from dl101.data import model_args
from dl101.errors import ConfigError, InputError
from dl101.internals import hide_unused_batch_hooks
from dl101.results.final_metrics import print_summary
from dl101.results.runs import JUDGED_BY
from dl101.run.checkpoints import (
    RNGStateInCheckpoint,
    RunConfigInCheckpoint,
    load_checkpoint,
    resolve_ckpt_path,
)
from dl101.run.config import absolute_data_paths
from dl101.run.config_types import check_types
from dl101.run.gpus import assign_gpu
from dl101.run.loggers import continue_tensorboard, finish_trackers, log_hparams
from dl101.run.provenance import record_provenance
from dl101.run.sweeps import jobs_side_by_side, mark_finished
from dl101.run.threads import set_threads

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
            raise ConfigError(
                f"{name}.{key} has no _target_: it sets {sorted(entry)} of an entry that the "
                f"chosen {name} option does not have (an experiment's adjustment, with "
                f"{name}=none?). Add the entry's _target_ or drop it: ~{name}.{key}"
            )
    return [instantiate_entry(entry, f"{name}.{key}") for key, entry in entries.items()]


def instantiate_entry(entry: DictConfig, key: str):
    """One callback or logger; a package it needs that is not installed is said in one line."""
    try:
        return instantiate(entry)
    except Exception as err:
        cause = err
        while cause is not None and not isinstance(cause, ModuleNotFoundError):
            cause = cause.__cause__ or cause.__context__
        if cause is None:
            raise
        raise InputError(
            f"{key} ({entry._target_}) needs a package that is not installed ({cause}): "
            "install dl101's extras, make install (or pip install -e '.[dev,mlflow,notebooks,"
            "wandb]')"
        ) from None


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


def with_model_monitor(callback_cfg: DictConfig | None, model) -> DictConfig | None:
    """Callbacks set to `monitor: auto` (the best checkpoint, early stopping) watch the metric
    the model declares (`Model.monitor`), in its direction."""
    metric, mode = model.monitor
    auto = {
        key: {"monitor": metric, "mode": mode}
        for key, entry in (callback_cfg or {}).items()
        if entry is not None and entry.get("monitor") == "auto"
    }
    return OmegaConf.merge(callback_cfg, auto) if auto else callback_cfg


def run_callbacks(cfg: DictConfig, model) -> list:
    """The run's callbacks: its config's (watching the model's own metric where they say
    `monitor: auto`) and those that put the run's config and RNG states in its checkpoints."""
    callback_cfg = with_model_monitor(cfg.get("callbacks"), model)
    if (jobs_side_by_side() or 1) > 1 and (callback_cfg or {}).get("progress_bar"):
        # Jobs side by side share one terminal: their bars would overwrite each other.
        callback_cfg = OmegaConf.merge(callback_cfg, {"progress_bar": {"refresh_rate": 0}})
    return [
        *instantiate_group(callback_cfg, "callbacks"),
        RunConfigInCheckpoint(cfg),
        RNGStateInCheckpoint(),
    ]


def write_judged_by(output_dir: str | Path, model, trainer: pl.Trainer) -> None:
    """What the run is judged by, in its folder, where reports read it back: the metric its
    best checkpoint is chosen by and each metric family's direction (higher or lower is
    better), as the model declares them."""
    checkpoint = trainer.checkpoint_callback
    monitor = checkpoint.monitor if checkpoint is not None and checkpoint.monitor else None
    judged = {
        "monitor": monitor,
        "mode": checkpoint.mode if monitor else None,
        "directions": dict(model.directions),
        "metrics": list(model.judged_by),
    }
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    OmegaConf.save(judged, Path(output_dir) / JUDGED_BY)


def cluster_plugins() -> list:
    """In a SLURM job, Lightning's SLURM environment (the ranks of `srun`'s tasks) without its
    own requeue: submitit requeues the job, once SaveOnSignal has saved last.ckpt at the end of
    a step. Lightning's would save a checkpoint in the middle of a step, where a requeued sweep
    job does not look, and requeue the job a second time."""
    return [SLURMEnvironment(auto_requeue=False)] if SLURMEnvironment.detect() else []


def build(cfg: DictConfig) -> tuple[pl.LightningModule, pl.LightningDataModule]:
    """The run's model and datamodule, seeded as the run is: the data tells the model what only
    it knows (a vocabulary's size)."""
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = instantiate(cfg.data)
    return instantiate(cfg.model, **model_args(datamodule, cfg.model)), datamodule


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint on the official test set; return all final metrics."""
    quiet_known_warnings()
    check_types(cfg)  # a value of the wrong type is refused before anything is built
    assign_gpu(cfg)  # a joblib sweep job's own GPU, before CUDA starts
    absolute_data_paths(cfg.get("data"))  # kept so in checkpoints: found from any folder
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
    model, datamodule = build(cfg)
    set_threads(cfg, model, datamodule)
    if cfg.get("compile"):
        model = torch.compile(model)  # Lightning unwraps it and compiles the *_step methods
    callbacks = run_callbacks(cfg, model)
    loggers = instantiate_group(logger_cfg, "logger")
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=hide_unused_batch_hooks(callbacks),
        logger=loggers or False,
        plugins=[*instantiate(cfg.trainer.get("plugins") or []), *cluster_plugins()],
    )
    provenance = None
    if trainer.is_global_zero:
        write_judged_by(cfg.paths.output_dir, model, trainer)
        provenance = record_provenance(cfg.paths.output_dir, trainer, loggers, "dl101.train")
    log_hparams(loggers, cfg, model, callbacks)

    try:
        metrics, best = fit_and_test(cfg, trainer, model, datamodule, ckpt_path)
    finally:
        finish_trackers(loggers)
    if trainer.is_global_zero:
        mark_finished(cfg.paths.output_dir, metrics)
        print_summary(metrics, cfg.paths.output_dir, best or None, provenance)
    return metrics


def fit_and_test(cfg: DictConfig, trainer: pl.Trainer, model, datamodule, ckpt_path):
    """Fit, then test the best checkpoint (the final weights where there is none); the final
    metrics and the best checkpoint's path ("" for none)."""
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    except SIGTERMException:  # SaveOnSignal saved the current step and said how to resume
        raise SystemExit(128 + signal.SIGTERM) from None
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.get("test"):
        if not best:
            log.info(f"No best checkpoint ({no_best_reason(trainer)}): testing the final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
    return metrics, best
