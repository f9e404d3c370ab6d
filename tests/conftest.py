from __future__ import annotations

from pathlib import Path

import pytest

from dl101 import PROJECT_ROOT
from dl101.data.sources import ensure_mnist


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
