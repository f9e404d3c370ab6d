"""The processes a stacked sweep's groups train in (hydra/launcher=stacked, `processes`).

On a CPU a group's forward and backward are many small operations whose Python side holds one
core while the other waits: two groups side by side, one process and one torch thread each,
use both. The processes are forked from one that imports torch and Lightning once, started when
the launcher is set up, while Hydra composes the jobs' configs; a group then starts at once.
Signals the launcher gets (SIGTERM, SIGUSR1) reach the groups' processes, whose members save as
in one process.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

log = logging.getLogger(__name__)
FORWARDED = (signal.SIGTERM, signal.SIGUSR1)
TRAINING = "dl101.stacked.training"  # what a group imports (torch, Lightning)
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"  # as Hydra's


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_processes(accelerator: str) -> int:
    """One process per core on a CPU; one on a machine with an NVIDIA GPU the jobs may use (a
    group fills it) or inside a submitit job (its requeue handler lives in this process)."""
    on_gpu = accelerator != "cpu" and Path("/dev/nvidiactl").exists()
    in_submitit = "SUBMITIT_FOLDER" in os.environ or "SUBMITIT_JOB_ID" in os.environ
    return 1 if on_gpu or in_submitit else cores()


def warm_up(logging_level: int, launcher: int) -> None:
    """A worker's start: what a group's training imports (loaded already where the forkserver
    preloaded it), Hydra's resolvers, logging, and a thread that ends it with its launcher."""
    from hydra.core.utils import setup_globals

    import dl101.stacked.training  # noqa: F401  (torch, Lightning: its own console handler)

    setup_globals()  # Hydra's resolvers (${hydra:...}), as in the launcher's process
    # What was imported (half a million objects) left out of the collector's full passes: the
    # first that a group's pickled plan set off took 0.25 s.
    gc.freeze()
    logging.basicConfig(level=logging_level, format=LOG_FORMAT)
    between_groups()
    threading.Thread(target=exit_with, args=(launcher,), daemon=True).start()


def exit_with(launcher: int) -> None:
    """A worker whose launcher was killed (kill -9) stops too, rather than go on writing into
    the sweep's folders beside the command that continues it. Its parent is the forkserver,
    which lives as long as any worker does: the launcher itself is watched."""
    if hasattr(os, "pidfd_open"):  # Linux: readable once the launcher has exited
        with contextlib.suppress(OSError):  # it has exited already
            select.select([os.pidfd_open(launcher)], [], [])
    else:
        while running(launcher):
            time.sleep(1)
    os._exit(1)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def between_groups() -> None:
    """A worker without a group has nothing to save: the signals the launcher forwards to every
    worker (`GroupProcesses.run`) leave it be. A group's trainer handles them while it trains."""
    for sig in FORWARDED:
        signal.signal(sig, lambda signum, frame: None)


def started() -> None:
    """A task that makes the pool start a worker."""


class GroupProcesses:
    """`processes` worker processes, forked from one process that imports what a group's
    training imports (multiprocessing's forkserver, preloaded): started at once, they are ready
    when that import is done, which is paid once, not once a worker. This process goes on (Hydra
    composes the jobs' configs) while a thread waits for them."""

    def __init__(self, processes: int):
        self.processes = processes
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([TRAINING])
        self.pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=context,
            initializer=warm_up,
            initargs=(logging.getLogger().getEffectiveLevel(), os.getpid()),
        )
        self.starting = threading.Thread(target=self.start, daemon=True)
        self.starting.start()

    def start(self) -> None:
        for _ in range(self.processes):  # each returns once the forkserver forked its worker
            self.pool.submit(started)

    def run(self, tasks: list[tuple[Callable, tuple]],
            each_done: Callable[[int, Future], None] | None = None) -> list[Future]:  # fmt: skip
        """Each task (function, arguments) in a worker; `each_done(index, future)` as each task
        ends, in the order they end; the signals this process gets are forwarded to the
        workers while they run."""
        self.starting.join()
        futures = [self.pool.submit(function, *args) for function, args in tasks]
        before = {sig: signal.getsignal(sig) for sig in FORWARDED}

        def forward(signum, frame):
            for child in multiprocessing.active_children():
                os.kill(child.pid, signum)

        for sig in FORWARDED:
            signal.signal(sig, forward)
        try:
            for future in as_completed(futures):
                if each_done is not None:
                    each_done(futures.index(future), future)
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
        return futures

    def call(self, function: Callable, *args):
        """`function(*args)` in a worker: its result (or its exception, raised here)."""
        return self.run([(function, args)])[0].result()

    def close(self, stopped: bool = False) -> None:
        """Let the workers go; their exit (torch's teardown) overlaps what follows. `stopped`
        (the sweep stops on an error or a signal): they are killed, none outlives the launcher."""
        self.starting.join()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if stopped:
            for child in multiprocessing.active_children():
                child.kill()
