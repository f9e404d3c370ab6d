"""Train: compose config -> instantiate data, model, callbacks, loggers, trainer -> fit -> test."""

from __future__ import annotations

import logging
import os
import warnings

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table

from dl101 import CONFIG_DIR
from dl101.callbacks import NonFiniteLossError, skip_unused_batch_hooks
from dl101.checkpoints import RNGStateInCheckpoint, RunConfigInCheckpoint, resolve_ckpt_path
from dl101.data import model_args
from dl101.hparams import log_hparams
from dl101.threads import fastest_threads

log = logging.getLogger(__name__)
# Batches come from in-memory tensors, so worker processes would only add overhead.
warnings.filterwarnings("ignore", ".*does not have many workers.*")
# Lightning's own use of a deprecated torch API; nothing a user can act on.
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


def print_summary(metrics: dict[str, float], output_dir: str) -> None:
    table = Table(title="Final metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.4f}")
    console = Console()
    console.print(table)
    console.print(f"Logs and checkpoints: [bold]{output_dir}[/]")
    console.print("Open TensorBoard: [bold]make tensorboard[/]  (or: tensorboard --logdir logs)")


def threads_per_job(cfg: DictConfig) -> int | None:
    """A number for `threads`; under the joblib launcher, the cores shared among its parallel
    jobs; under DDP on CPU, the cores shared among its processes; None for `auto` and null."""
    cores = os.cpu_count() or 1
    threads = cfg.get("threads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        return threads
    if threads not in ("auto", None):
        raise ValueError(f"threads={threads}: give auto, a positive number of threads, or null")
    if HydraConfig.initialized():
        launcher = HydraConfig.get().launcher
        if "Joblib" in str(launcher.get("_target_", "")):
            n_jobs = launcher.get("n_jobs") or 1
            return max(1, cores // (cores if n_jobs < 0 else n_jobs))
    devices = cfg.trainer.get("devices")
    if "ddp" in str(cfg.trainer.get("strategy", "")) and isinstance(devices, int):
        return max(1, cores // devices)
    return None


def runs_on_cpu(cfg: DictConfig) -> bool:
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def set_threads(cfg: DictConfig, model, datamodule) -> None:
    """torch's thread count: as configured, or for `auto` 1 or all cores, whichever is clearly
    faster for this model (measured on one of its batches). A deterministic run keeps all cores:
    a measured choice could differ between two runs, and with it the metrics' last digits."""
    threads = threads_per_job(cfg)
    measure = runs_on_cpu(cfg) and not cfg.trainer.get("deterministic")
    if threads is None and cfg.get("threads") == "auto" and measure:
        datamodule.prepare_data()
        datamodule.setup("fit")
        threads = fastest_threads(model, datamodule)
    if threads is not None:
        torch.set_num_threads(threads)
        log.info(f"torch threads: {threads}")


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, then test the best checkpoint on the official test set; return all final metrics."""
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, **model_args(datamodule))
    set_threads(cfg, model, datamodule)
    if cfg.get("compile"):
        model = torch.compile(model)  # Lightning unwraps it and compiles the *_step methods
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir, cfg.task_name)
    callbacks = [
        *instantiate_group(cfg.get("callbacks"), "callbacks"),
        RunConfigInCheckpoint(cfg),
        RNGStateInCheckpoint(),
    ]
    loggers = instantiate_group(cfg.get("logger"), "logger")
    trainer: pl.Trainer = instantiate(
        cfg.trainer, callbacks=skip_unused_batch_hooks(callbacks), logger=loggers or False
    )
    log_hparams(loggers, cfg)

    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    if cfg.get("test"):
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        if not best:
            log.info("No best checkpoint kept (fast_dev_run, save_top_k=0): testing final weights")
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({name: float(value) for name, value in trainer.callback_metrics.items()})
    if trainer.is_global_zero:
        print_summary(metrics, cfg.paths.output_dir)
    return metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        metrics = train(cfg)
    except NonFiniteLossError as err:
        if HydraConfig.get().mode != RunMode.MULTIRUN:
            raise
        # In a sweep this job is one failed trial (Optuna records NaN as a failure), not the end.
        log.error(str(err))
        return float("nan")
    # The value a Hydra sweeper optimizes.
    return metrics.get(cfg.get("optimized_metric")) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    main()
