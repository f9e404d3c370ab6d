"""dl101: the Deep Learning 101 course as a Hydra + PyTorch Lightning research template."""

import os
from pathlib import Path

_checkout = Path(__file__).resolve().parents[2]
# An editable install runs from the checkout, whose conf/ and data/ every run shares.
PROJECT_ROOT = _checkout if (_checkout / "conf").is_dir() else Path.cwd()
CONFIG_DIR = str(PROJECT_ROOT / "conf")
os.environ.setdefault("DL101_ROOT", str(PROJECT_ROOT))  # read by conf/paths as ${oc.env:DL101_ROOT}
