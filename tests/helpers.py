"""Helpers shared by the tests."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pytorch_lightning import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101 import PROJECT_ROOT
from dl101.run.config import compose_config

__all__ = [
    "QUIET", "HoldAtStep", "NoSpaceFrom", "compose_config", "kill_at_step", "run_module",
    "scalars", "write_digit_pictures", "write_shape_pictures",
]  # fmt: skip

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
    """Write `marker` and stop moving when training reaches `step` (in sweep job number `job`
    only, where given): a test kills or signals the process there, at a known step, whatever the
    machine's speed. The hold ends when the test deletes the marker, or on SIGTERM. Without a
    marker (the HOLD_MARKER variable unset) it never holds: a command run again unchanged."""

    stacks = True  # it reads the trainer alone: a stacked group holds with it (job=None)

    def __init__(self, step: int, marker: str | None = None, job: int | None = None):
        self.step, self.job = step, job
        marker = marker or os.environ.get("HOLD_MARKER")
        self.marker = Path(marker) if marker else None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.marker is None or trainer.global_step != self.step or not self.in_job():
            return
        self.marker.write_text(str(self.step))
        deadline = time.monotonic() + 3600
        while self.marker.exists() and not trainer.received_sigterm:
            time.sleep(0.05)
            if time.monotonic() > deadline:
                raise TimeoutError("held for an hour: the test never released the run")

    def in_job(self) -> bool:
        from hydra.core.hydra_config import HydraConfig

        return self.job is None or HydraConfig.get().job.num == self.job


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


def write_digit_pictures(root: Path, train: bool, per_class: int) -> None:
    """The first `per_class` MNIST digits of each class as PNG files, a folder per digit: the
    layout torchvision's ImageFolder reads (`root/7/000.png`)."""
    from PIL import Image

    from dl101.data.mnist import raw_mnist

    pixels, labels = raw_mnist(PROJECT_ROOT / "data", train=train)
    counts = dict.fromkeys(range(10), 0)
    for image, label in zip(pixels, labels.tolist(), strict=True):
        if counts[label] < per_class:
            folder = Path(root) / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.numpy()).save(folder / f"{counts[label]:03d}.png")
            counts[label] += 1
        if min(counts.values()) == per_class:
            return


class NoSpaceFrom(Callback):
    """From training step `step` on, every file written the safe way fails as on a full disk
    (os.fsync raising ENOSPC): a disk that fills up in the middle of a run."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:

            def full(_fd):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            os.fsync = full


SHAPES = ("circle", "square", "triangle")


def write_shape_pictures(root: Path, per_class: int, seed: int = 0, size: int = 16) -> None:
    """Colour pictures (RGB PNGs) of three shapes, a folder per shape, each in its own colour
    at a random place: a folder a researcher might bring (`root/circle/000.png`)."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    colours = {"circle": (220, 40, 40), "square": (40, 200, 60), "triangle": (50, 70, 230)}
    for shape in SHAPES:
        (Path(root) / shape).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("RGB", (size, size), (0, 0, 0))
            draw = ImageDraw.Draw(image)
            x, y, r = rng.randint(4, size - 5), rng.randint(4, size - 5), rng.randint(2, 4)
            box = [x - r, y - r, x + r, y + r]
            if shape == "circle":
                draw.ellipse(box, fill=colours[shape])
            elif shape == "square":
                draw.rectangle(box, fill=colours[shape])
            else:
                draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colours[shape])
            image.save(Path(root) / shape / f"{i:03d}.png")
