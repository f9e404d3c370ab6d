"""How many CPU threads a run's torch ops get. Small models can run faster on fewer threads
(thread wake-ups cost more than they share), big ones want every core: `threads=auto` measures
the run's own model on one of its batches instead of guessing."""

from __future__ import annotations

import copy
import logging
import os
import statistics
import time

import torch
from omegaconf import DictConfig

from dl101.errors import ConfigError
from dl101.run.sweeps import jobs_side_by_side

log = logging.getLogger(__name__)

# A forward + backward slower than this already keeps every core busy: no need to measure.
SLOW_STEP_SECONDS = 0.05
# One thread must win by this much: near-ties would otherwise flip between runs (and the thread
# count changes the order of float sums, so the last digits of the metrics).
MARGIN = 0.8


def step_seconds(model: torch.nn.Module, batch, threads: int, repeats: int = 5) -> float:
    """Median time of a forward + backward of `model` on `batch` with `threads` threads."""
    torch.set_num_threads(threads)
    times = []
    for _ in range(repeats + 1):  # the first call warms up
        start = time.perf_counter()
        output = model(batch[0])
        output = output[0] if isinstance(output, tuple) else output  # (logits, state)
        output.float().square().mean().backward()  # the cost, not the loss, is what counts
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def fastest_threads(model: torch.nn.Module, datamodule) -> int:
    """1 thread if it runs a training step of a copy of `model` clearly faster than all cores
    (in less than MARGIN of the time), else all cores.

    The copy, the batch and the random numbers they use leave the run itself untouched.
    """
    cores = os.cpu_count() or 1
    if cores == 1:
        return 1
    with torch.random.fork_rng():
        probe = copy.deepcopy(model).train()
        batch = next(iter(datamodule.train_dataloader()))
        batch = [part.cpu() for part in batch]
        if step_seconds(probe, batch, cores, repeats=1) > SLOW_STEP_SECONDS:
            chosen = cores
        else:
            all_cores = step_seconds(probe, batch, cores)
            chosen = 1 if step_seconds(probe, batch, 1) < MARGIN * all_cores else cores
    torch.set_num_threads(chosen)
    return chosen


def threads_and_reason(cfg: DictConfig) -> tuple[int | None, str]:
    """A number for `threads` and why: as configured; under the joblib launcher, the cores shared
    among its jobs side by side; under DDP on CPU, among its processes. None for `auto` and null."""
    cores = os.cpu_count() or 1
    threads = cfg.get("threads")
    if isinstance(threads, int) and not isinstance(threads, bool) and threads > 0:
        return threads, f"threads={threads}"
    if threads not in ("auto", None):
        raise ConfigError(f"threads={threads}: give auto, a positive number of threads, or null")
    if (jobs := jobs_side_by_side()) is not None:
        return max(1, cores // jobs), f"{jobs} sweep jobs side by side on {cores} cores"
    devices = cfg.trainer.get("devices")
    if "ddp" in str(cfg.trainer.get("strategy", "")) and isinstance(devices, int):
        return max(1, cores // devices), f"{devices} DDP processes on {cores} cores"
    return None, ""


def threads_per_job(cfg: DictConfig) -> int | None:
    return threads_and_reason(cfg)[0]


def runs_on_cpu(cfg: DictConfig) -> bool:
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    return accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())


def set_threads(cfg: DictConfig, model, datamodule) -> None:
    """torch's thread count: as configured, or for `auto` 1 or all cores, whichever is clearly
    faster for this model (measured on one of its batches). A deterministic run keeps all cores:
    a measured choice could differ between two runs, and with it the metrics' last digits."""
    threads, reason = threads_and_reason(cfg)
    measure = runs_on_cpu(cfg) and not cfg.trainer.get("deterministic")
    if threads is None and cfg.get("threads") == "auto" and measure:
        datamodule.prepare_data()
        datamodule.setup("fit")
        threads, reason = fastest_threads(model, datamodule), "threads=auto, measured"
    if threads is not None:
        torch.set_num_threads(threads)
        log.info(f"torch threads: {threads} ({reason})")
