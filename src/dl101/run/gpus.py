"""One GPU per sweep job side by side. Under the joblib launcher on a machine with several GPUs,
`n_jobs` defaults to their number (conf/hydra/launcher/joblib.yaml), and each worker process
takes the lowest free worker slot k (a lock file in the sweep's folder, held while the worker
lives, so a worker that runs several jobs keeps its GPU) and sees GPU k mod (number of GPUs)
alone: CUDA_VISIBLE_DEVICES, set before CUDA starts. One GPU or none: nothing changes."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_slot: IO | None = None  # this worker's lock file, open for the worker's life


def gpu_count() -> int:
    """The GPUs this process may use; counted through NVML, which leaves CUDA unstarted (so
    CUDA_VISIBLE_DEVICES can still narrow them)."""
    import torch

    return torch.cuda.device_count()


def default_jobs() -> int:
    """joblib's n_jobs: one job per GPU on a machine with several, else one per core (-1)."""
    count = gpu_count()
    return count if count > 1 else -1


def visible_gpus(count: int) -> list[str]:
    """The ids CUDA_VISIBLE_DEVICES may name: those it names already, else 0 .. count-1."""
    named = [gpu for gpu in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if gpu]
    return named[:count] if named else [str(index) for index in range(count)]


def claim_gpu(sweep_dir: str | Path, jobs: int) -> str | None:
    """This worker's GPU (its id, now the only one CUDA_VISIBLE_DEVICES names): the lowest
    worker slot of `jobs` no live worker holds, k, gives GPU k mod count. None where there are
    fewer than two GPUs: the jobs share the one there is, as configured."""
    global _slot
    count = gpu_count()
    if count < 2:
        return None
    if _slot is not None:  # this worker's next job: the GPU it took for its first
        return os.environ["CUDA_VISIBLE_DEVICES"]
    gpus = visible_gpus(count)
    folder = Path(sweep_dir) / ".gpu_slots"
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(max(jobs, 1)):
        lock = (folder / f"worker{slot}.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _slot = lock
        os.environ["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        log.info(f"GPU {gpus[slot % len(gpus)]} (worker {slot} of {jobs} side by side)")
        return os.environ["CUDA_VISIBLE_DEVICES"]
    return None  # more workers than n_jobs: cannot happen under joblib


def release_gpu() -> None:
    """Give this worker's slot back (a worker ending does so by itself)."""
    global _slot
    if _slot is not None:
        _slot.close()
        _slot = None


def assign_gpu(cfg) -> str | None:
    """A sweep job's own GPU under the joblib launcher (claim_gpu), unless it runs on the CPU;
    called before anything starts CUDA."""
    from hydra.core.hydra_config import HydraConfig

    from dl101.run.sweeps import jobs_side_by_side

    jobs = jobs_side_by_side()
    if jobs is None or str(cfg.trainer.get("accelerator", "auto")) == "cpu":
        return None
    return claim_gpu(HydraConfig.get().sweep.dir, jobs)
