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
