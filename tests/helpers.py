"""Helpers shared by the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytorch_lightning import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101 import PROJECT_ROOT
from dl101.config import compose_config

__all__ = ["QUIET", "HoldAtStep", "compose_config", "kill_at_step", "run_module", "scalars"]

# Fast settings for in-process runs: no progress bar redraws, no model summary.
QUIET = ["~callbacks.progress_bar", "~callbacks.model_summary"]


def run_module(*args: str, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m <args>` as a user types it, from this checkout; fails the test on an error
    (unless `check=False`: the test looks at the error itself)."""
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT), "COLUMNS": "200"}
    result = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, env=env, timeout=timeout
    )
    assert result.returncode == 0 or not check, result.stderr[-3000:]
    return result


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag in a run's TensorBoard event files, read with TensorBoard's own reader
    (independently of dl101's): tag -> [(step, value), ...] as logged."""
    accumulator = EventAccumulator(str(Path(run_dir)), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


class HoldAtStep(Callback):
    """Write `marker` and stop moving when training reaches `step`: a test kills the process
    there, at a known step, whatever the machine's speed."""

    def __init__(self, step: int, marker: str):
        self.step, self.marker = step, Path(marker)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            self.marker.write_text(str(self.step))
            time.sleep(3600)


def kill_at_step(overrides: list[str], run_dir: Path, step: int, timeout: float = 180) -> Path:
    """`python -m dl101.train overrides` in `run_dir`, SIGKILLed once it holds at `step`
    (HoldAtStep's marker); returns the path of its `last.ckpt`."""
    marker = Path(run_dir).with_name(Path(run_dir).name + ".held")
    hold = [
        "+callbacks.hold._target_=tests.helpers.HoldAtStep",
        f"+callbacks.hold.step={step}",
        f"+callbacks.hold.marker={marker}",
    ]
    command = [sys.executable, "-m", "dl101.train", *overrides, *hold, f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(
        [*command, "callbacks.progress_bar.refresh_rate=0"],
        env={**os.environ, "DL101_ROOT": str(PROJECT_ROOT)},
        cwd=PROJECT_ROOT,  # where `tests.helpers` is found
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polls for the marker; what is killed does not depend on this timing
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert marker.exists(), f"the run never reached step {step}"
    return Path(run_dir) / "checkpoints" / "last.ckpt"
