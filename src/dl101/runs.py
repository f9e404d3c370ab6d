"""Finished runs read back from their folders: config, overrides, what the sweep varied, whether
the job failed, and the TensorBoard scalars."""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101.sweep_names import FAILED_MARKER, SWEPT_KEYS_VAR

# The event reader reports every file it moves to at INFO: noise in a sweep's summary.
logging.getLogger("tensorboard").setLevel(logging.WARNING)


def lower_is_better(tag: str) -> bool:
    return tag.split("/")[-1].startswith(("loss", "mse", "ppl"))


@dataclass
class Run:
    path: Path
    config: dict
    overrides: list[str]
    events: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # tag -> (step, v)
    job_num: int | None = None  # the job's number in its sweep
    swept: list[str] = field(default_factory=list)  # the keys its sweep varied
    failed: str | None = None  # why the job failed, if it did

    def values(self, tag: str) -> list[float]:
        return [value for _, value in self.events.get(tag, [])]

    def final(self, tag: str) -> float | None:
        values = self.values(tag)
        return values[-1] if values else None

    def best(self, tag: str) -> float | None:
        values = self.values(tag)
        if not values:
            return None
        return min(values) if lower_is_better(tag) else max(values)

    def at_step(self, tag: str, step: int) -> float | None:
        """The last value logged at or before `step`."""
        before = [value for s, value in self.events.get(tag, []) if s <= step]
        return before[-1] if before else None

    def hparams(self) -> dict[str, str]:
        """The job's command-line overrides as key -> value."""
        return dict(o.lstrip("+~").split("=", 1) for o in self.overrides if "=" in o)

    def lookup(self, dotted_key: str):
        """A config value by dotted key, else the job's override of that key (a config group's
        option such as `regularization`); `overrides` = the job's overrides except its seed."""
        if dotted_key == "overrides":
            return " ".join(o for o in self.overrides if not o.startswith("seed=")) or "(none)"
        value = self.config
        for part in dotted_key.split("."):
            if not isinstance(value, dict) or part not in value:
                return self.hparams().get(dotted_key)
            value = value[part]
        return value


def event_dir(run_dir: Path) -> Path:
    """Where a run's event files are: its own folder (older runs: its `tensorboard/`)."""
    older = Path(run_dir) / "tensorboard"
    return older if older.is_dir() else Path(run_dir)


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each scalar tag of the run's TensorBoard logs as (step, value) in step order, read with
    TensorBoard's own reader."""
    accumulator = EventAccumulator(str(event_dir(run_dir)), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: sorted((event.step, event.value) for event in accumulator.Scalars(tag))
        for tag in accumulator.Tags()["scalars"]
    }


def read_run(run_dir: Path) -> Run:
    hydra_dir = run_dir / ".hydra"
    overrides_file, hydra_file = hydra_dir / "overrides.yaml", hydra_dir / "hydra.yaml"
    overrides = (
        OmegaConf.to_container(OmegaConf.load(overrides_file)) if overrides_file.exists() else []
    )
    config = OmegaConf.to_container(OmegaConf.load(hydra_dir / "config.yaml"), resolve=False)
    job_num, swept = None, []
    if hydra_file.exists():
        job = OmegaConf.load(hydra_file).hydra.job
        job_num = job.get("num")
        swept = str(job.get("env_set", {}).get(SWEPT_KEYS_VAR, "")).split()
    marker = run_dir / FAILED_MARKER
    failed = (marker.read_text().strip() or "failed") if marker.exists() else None
    return Run(run_dir, config, overrides, read_scalars(run_dir), job_num, swept, failed)


def find_runs(path: Path) -> list[Run]:
    """Every run under `path` (itself included): folders with a `.hydra/config.yaml`, in the
    order their sweep ran them."""
    runs = [read_run(config.parent.parent) for config in path.glob("**/.hydra/config.yaml")]
    if not runs:
        raise FileNotFoundError(f"{path}: no runs here (no .hydra/config.yaml below it)")
    return sorted(runs, key=lambda run: (str(run.path.parent), run.job_num or 0, str(run.path)))


def group_runs(runs: list[Run], keys: list[str]) -> dict[str, list[Run]]:
    """Runs by their values of the config `keys` (joined with " / "), in first-seen order."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(" / ".join(str(run.lookup(key)) for key in keys), []).append(run)
    return groups


class Curve(NamedTuple):
    """A scalar over the runs of a group, at the steps every one of them logged it."""

    steps: list[int]
    means: list[float]
    stds: list[float]
    lows: list[float]
    highs: list[float]


def mean_curve(runs: list[Run], tag: str) -> Curve:
    """Mean, std, min and max over the runs that logged `tag`, step by step."""
    series = [dict(run.events[tag]) for run in runs if tag in run.events]
    steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
    values = [[s[step] for s in series] for step in steps]
    return Curve(
        steps,
        [statistics.mean(v) for v in values],
        [statistics.stdev(v) if len(v) > 1 else 0.0 for v in values],
        [min(v) for v in values],
        [max(v) for v in values],
    )
