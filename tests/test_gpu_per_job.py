"""One sweep job per GPU on one machine (hydra/launcher=joblib): n_jobs is the GPU count where
there are several, each worker sees its own GPU, and CPU-only machines are as before. The GPU
count is mocked: torch.cuda.device_count, which dl101.run.gpus reads."""

from __future__ import annotations

import os

import pytest
import torch

from dl101.run import gpus
from dl101.run.gpus import assign_gpu, claim_gpu
from tests.helpers import compose_config


@pytest.fixture
def machine(monkeypatch):
    """A machine with `count` GPUs; each call is a new joblib worker process (no slot held, its
    parent's CUDA_VISIBLE_DEVICES); the earlier workers live on, holding their slots."""
    alive = []

    def worker(count: int, visible: str | None = None) -> None:
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        alive.append(gpus._slot)
        monkeypatch.setattr(gpus, "_slot", None)
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)

    return worker


@pytest.mark.parametrize(("count", "n_jobs"), [(0, -1), (1, -1), (4, 4)])
def test_joblib_runs_one_job_per_gpu_where_there_are_several(machine, tmp_path, count, n_jobs):
    machine(count)
    cfg = compose_config(tmp_path, ["hydra/launcher=joblib"], keep_hydra=True)
    assert cfg.hydra.launcher.n_jobs == n_jobs  # -1: one per core, as on a CPU-only machine


def test_each_worker_sees_its_own_gpu_and_keeps_it(machine, tmp_path):
    seen = []
    for _ in range(2):
        machine(2)
        seen.append(claim_gpu(tmp_path, jobs=2))
        assert os.environ["CUDA_VISIBLE_DEVICES"] == seen[-1]
    assert seen == ["0", "1"]
    assert claim_gpu(tmp_path, jobs=2) == "1"  # the second worker's next job: the same GPU
    gpus.release_gpu()  # that worker ended: the one that replaces it takes its GPU
    machine(2)
    assert claim_gpu(tmp_path, jobs=2) == "1"


def test_workers_share_the_gpus_the_parent_was_given_in_turn(machine, tmp_path):
    seen = []
    for _ in range(3):
        machine(2, visible="5,7")  # torch counts the GPUs CUDA_VISIBLE_DEVICES leaves
        seen.append(claim_gpu(tmp_path, jobs=3))
    assert seen == ["5", "7", "5"]  # three jobs side by side on two GPUs


def test_cpu_only_machines_and_cpu_runs_are_left_as_they_were(machine, tmp_path):
    machine(0)
    assert claim_gpu(tmp_path, jobs=2) is None
    machine(1)  # one GPU: the jobs share it, as configured
    assert claim_gpu(tmp_path, jobs=2) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
    machine(2)
    cfg = compose_config(tmp_path, ["hydra/launcher=joblib", "trainer.accelerator=cpu"],
                         keep_hydra=True)  # fmt: skip
    assert assign_gpu(cfg) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
