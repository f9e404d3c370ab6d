"""A sweep continued where it stopped: typing the same `-m` command with
`hydra.sweep.dir=<its folder>` runs it again, and each job first reads its own folder. A job
that finished is kept as it is (not trained again: its event files and checkpoints untouched);
the job that was killed resumes from its own `last.ckpt`, in its own folder, its TensorBoard
curve carrying on; a job killed before its first checkpoint, or never started, runs anew.
A job that failed (a NaN loss) stays failed: its folder says why; delete it to run it again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from omegaconf import DictConfig, open_dict

from dl101.files import write_atomic
from dl101.results.job_names import FAILED_MARKER, FINISHED_MARKER
from dl101.results.runs import JUDGED_BY

KEEP = {".hydra", FAILED_MARKER}  # what a job folder holds before it trains


def job_state(folder: Path) -> str:
    """`finished`, `failed`, `killed` (it started training and did not end) or `new`."""
    if (folder / FINISHED_MARKER).is_file():
        return "finished"
    if (folder / FAILED_MARKER).is_file():
        return "failed"
    return "killed" if (folder / JUDGED_BY).is_file() else "new"


def finished_metrics(folder: Path) -> dict[str, float]:
    return json.loads((folder / FINISHED_MARKER).read_text())


def mark_finished(folder: Path, metrics: dict[str, float]) -> None:
    """The run's final metrics in its folder: it finished (and a continued sweep keeps it)."""
    write_atomic(Path(folder) / FINISHED_MARKER, json.dumps(metrics, indent=2).encode())


def resume_killed(cfg: DictConfig, folder: Path) -> DictConfig:
    """A killed job's config set to resume from its own last.ckpt; without one, its partial
    outputs cleared so that it runs anew with one TensorBoard run and one best checkpoint."""
    last = folder / "checkpoints" / "last.ckpt"
    if last.is_file():
        with open_dict(cfg):
            cfg.ckpt_path = str(last)
        return cfg
    for entry in folder.iterdir():
        if entry.name not in KEEP and not entry.name.endswith(".log"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return cfg
