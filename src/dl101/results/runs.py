"""Finished runs read back from their folders: config, overrides, what the sweep varied, whether
the job failed, and the TensorBoard scalars."""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf
from omegaconf._utils import get_yaml_loader
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.metadata import (
    SESSION_START_INFO_TAG,
    parse_session_start_info_plugin_data,
)

from dl101.errors import InputError
from dl101.results.event_files import native_checksums
from dl101.results.job_names import FAILED_MARKER, FINISHED_MARKER, SWEPT_KEYS_VAR, is_optuna

# The event reader reports every file it moves to at INFO: noise in a sweep's summary.
logging.getLogger("tensorboard").setLevel(logging.WARNING)

native_checksums()  # reading a run checks every record's checksum


JUDGED_BY = "judged_by.yaml"  # in a run's folder: what it is judged by (dl101.run.training)
# For runs written before their model declared its metrics' directions: by the family's name.
LEGACY_DIRECTIONS = {"acc": "max", "acc_best": "max", "loss": "min", "loss_epoch": "min",
                     "mse": "min", "ppl": "min"}  # fmt: skip


@dataclass
class Run:
    path: Path
    config: dict
    overrides: list[str]
    events: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # tag -> (step, v)
    job_num: int | None = None  # the job's number in its sweep
    swept: list[str] = field(default_factory=list)  # the keys its sweep varied
    failed: str | None = None  # why the job failed, if it did
    session_hparams: dict[str, float | str | bool] = field(default_factory=dict)  # its HPARAMS row
    judged: dict = field(default_factory=dict)  # its judged_by.yaml: monitor, directions, metrics
    finished: bool = True  # it ended (its final_metrics.json); False: killed, or still running

    def direction(self, tag: str) -> str | None:
        """ "max" or "min": whether higher or lower is better for the tag's family (its last
        part: `acc` of `val/acc`), as the run's model declares it; None for what it does not
        judge (a gradient norm, a wall time)."""
        directions = self.judged.get("directions") or LEGACY_DIRECTIONS
        return directions.get(tag.split("/")[-1])

    def values(self, tag: str) -> list[float]:
        return [value for _, value in self.events.get(tag, [])]

    def final(self, tag: str) -> float | None:
        values = self.values(tag)
        return values[-1] if values else None

    def best(self, tag: str) -> float | None:
        """The best value logged, in the tag's direction; None without one."""
        values, direction = self.values(tag), self.direction(tag)
        if not values or direction is None:
            return None
        return max(values) if direction == "max" else min(values)

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
        if isinstance(value, dict):  # a config group (`model`): the option the job chose
            return self.hparams().get(dotted_key, value)
        return value


def event_dir(run_dir: Path) -> Path:
    """Where a run's event files are: its own folder (older runs: its `tensorboard/`)."""
    older = Path(run_dir) / "tensorboard"
    return older if older.is_dir() else Path(run_dir)


def read_events(run_dir: Path) -> tuple[dict[str, list[tuple[int, float]]], dict]:
    """The run's TensorBoard logs, read with TensorBoard's own reader: each scalar tag as
    (step, value) in step order, and its HPARAMS row (name -> value)."""
    accumulator = EventAccumulator(str(event_dir(run_dir)), size_guidance={"scalars": 0})
    accumulator.Reload()
    scalars = {
        tag: sorted((event.step, event.value) for event in accumulator.Scalars(tag))
        for tag in accumulator.Tags()["scalars"]
    }
    try:
        session = accumulator.PluginTagToContent("hparams").get(SESSION_START_INFO_TAG)
    except KeyError:  # no HPARAMS in this run (a mean run, an older run)
        session = None
    row = {}
    if session:
        for name, value in parse_session_start_info_plugin_data(session).hparams.items():
            row[name] = getattr(value, value.WhichOneof("kind"))
    return scalars, row


OMEGACONF_LOADER = get_yaml_loader()


class YamlLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):
    """OmegaConf's YAML reading (its floats such as 1e-3, no timestamps, its paths) with
    libyaml's parser: a run's files as OmegaConf.load and to_container read them, at a tenth of
    the time (a 100-job sweep's summary reads 400 of them)."""

    yaml_implicit_resolvers = OMEGACONF_LOADER.yaml_implicit_resolvers
    yaml_constructors = OMEGACONF_LOADER.yaml_constructors


def read_yaml(path: Path):
    """A YAML file of a run (its config unresolved) as plain dicts and lists."""
    loaded = yaml.load(Path(path).read_text(), Loader=YamlLoader)
    return {} if loaded is None else loaded  # an empty file, as OmegaConf reads it


def read_run(run_dir: Path) -> Run:
    hydra_dir = run_dir / ".hydra"
    overrides_file, hydra_file = hydra_dir / "overrides.yaml", hydra_dir / "hydra.yaml"
    overrides = read_yaml(overrides_file) if overrides_file.exists() else []
    config = read_yaml(hydra_dir / "config.yaml")
    job_num, swept = None, []
    if hydra_file.exists():
        job = read_yaml(hydra_file)["hydra"]["job"]
        job_num = job.get("num")
        swept = str((job.get("env_set") or {}).get(SWEPT_KEYS_VAR, "")).split()
    marker = run_dir / FAILED_MARKER
    failed = (marker.read_text().strip() or "failed") if marker.exists() else None
    judged_file = run_dir / JUDGED_BY
    judged = read_yaml(judged_file) if judged_file.exists() else {}
    # Runs from before final_metrics.json existed have no judged_by.yaml either: they ended.
    finished = (run_dir / FINISHED_MARKER).is_file() or not judged_file.exists()
    scalars, row = read_events(run_dir)
    return Run(run_dir, config, overrides, scalars, job_num, swept, failed, row, judged, finished)


def find_runs(path: Path) -> list[Run]:
    """Every run under `path` (itself included): folders with a `.hydra/config.yaml`, in the
    order their sweep ran them."""
    runs = [read_run(config.parent.parent) for config in path.glob("**/.hydra/config.yaml")]
    if not runs:
        raise InputError(
            f"{path}: no runs here (no .hydra/config.yaml below it): give a run's or a sweep's "
            "folder, such as logs/train/multiruns/<experiment>/<time>"
        )
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
        [statistics.fmean(v) for v in values],  # NaN where a run logged one, not an error
        [spread(v) for v in values],
        [min(v) for v in values],
        [max(v) for v in values],
    )


def spread(values: list[float]) -> float:
    """The sample standard deviation (0 for one value; NaN where a value is NaN)."""
    if len(values) < 2:
        return 0.0
    mean = statistics.fmean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def sweep_plan(sweep_dir: Path) -> tuple[int | None, list[str]]:
    """How many jobs a sweep's command asks for (None where it cannot be counted: a search),
    and its overrides, from the multirun.yaml that Hydra writes in its folder."""
    saved = Path(sweep_dir) / "multirun.yaml"
    if not saved.is_file():
        return None, []
    hydra = OmegaConf.load(saved).hydra
    task = list(hydra.overrides.task)
    if is_optuna(hydra.sweeper.get("_target_")):
        return hydra.sweeper.get("n_trials"), task
    params = [f"{key}={value}" for key, value in (hydra.sweeper.get("params") or {}).items()]
    counts = {}
    for override in OverridesParser.create().parse_overrides([*params, *task]):
        if override.is_sweep_override():
            try:
                counts[override.key_or_group] = len(list(override.sweep_string_iterator()))
            except Exception:  # an interval or a glob: not a list to count
                return None, task
    return math.prod(counts.values()), task


def continuation(sweep_dir: Path, runs: list[Run]) -> str | None:
    """For a sweep that did not finish (a job killed, or never started), how to continue it."""
    expected, task = sweep_plan(sweep_dir)
    unfinished = [run for run in runs if not run.finished and not run.failed]
    missing = (expected or 0) - len(runs)
    if not task or not (unfinished or missing > 0):
        return None
    left = len(unfinished) + max(missing, 0)
    command = " ".join(["python -m dl101.train -m", *task, f"hydra.sweep.dir={sweep_dir}"])
    return (
        f"{left} of {expected or len(runs)} jobs did not finish; continue the sweep (finished "
        f"jobs are kept, a killed one resumes from its last.ckpt): {command}"
    )
