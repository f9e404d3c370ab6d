from __future__ import annotations

from pathlib import Path

import pytest

from dl101 import PROJECT_ROOT
from dl101.data.sources import ensure_mnist
from tests.helpers import run_module


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST raw files (obtained once by `make data`, or here if missing)."""
    data_dir = PROJECT_ROOT / "data"
    ensure_mnist(data_dir)
    return data_dir


@pytest.fixture
def kill_fsync(monkeypatch):
    """Call it, and from then on every os.fsync raises KeyboardInterrupt: a process killed in
    the middle of a write."""

    def killed(_fd):
        raise KeyboardInterrupt

    return lambda: monkeypatch.setattr("os.fsync", killed)


@pytest.fixture(scope="session")
def regularization_sweep(mnist_dir, tmp_path_factory):
    """`sweep=regularization` as a user types it, shortened: 4 variants x 2 seeds, 20 steps
    each; its folder and what the command printed."""
    sweep_dir = tmp_path_factory.mktemp("regularization")
    result = run_module(
        "dl101.train", "sweep=regularization", "seed=1,2", "trainer.max_steps=20",
        f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    return sweep_dir, result
