"""`make screenshots`: what a user sees in TensorBoard after a sweep, as PNGs taken by headless
Chromium (Debian's `chromium` package): the seed-mean Scalars chart, Custom Scalars, HPARAMS, and
the summary's bar chart and table.

    python -m scripts.tensorboard_screenshots [SWEEP_DIR] [--out docs]

Without SWEEP_DIR it first runs the regularization sweep (`sweep=regularization`, about 30 s).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from scripts.board import take_screenshots

from dl101 import PROJECT_ROOT


def run_sweep() -> Path:
    sweep_dir = PROJECT_ROOT / "logs" / "screenshots" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    command = [sys.executable, "-m", "dl101.train", "sweep=regularization",
               f"hydra.sweep.dir={sweep_dir}", "callbacks.progress_bar.refresh_rate=0"]  # fmt: skip
    subprocess.run(command, check=True)
    return sweep_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", nargs="?", type=Path, help="default: run the sweep first")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "docs")
    args = parser.parse_args()
    sweep_dir = args.sweep_dir or run_sweep()
    for path in take_screenshots(sweep_dir, args.out):
        print(f"Written: {path}")


if __name__ == "__main__":
    main()
