"""How many CPU threads a run's torch ops get. Small models can run faster on fewer threads
(thread wake-ups cost more than they share), big ones want every core: `threads=auto` measures
the run's own model on one of its batches instead of guessing."""

from __future__ import annotations

import copy
import os
import statistics
import time

import torch

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
