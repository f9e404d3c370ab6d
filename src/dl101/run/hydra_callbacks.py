"""dl101's Hydra callbacks: every run's folder made first, so that one that cannot be written
ends the command in one line; and for every multirun, the keys it varies found at its start
(they name its jobs) and its summary at its end (`dl101.results.sweep_summary`), even when some
jobs failed."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dl101.errors import one_line
from dl101.results.job_names import SWEPT_KEYS_VAR, swept_keys

NON_FINITE = "NonFiniteLossError"  # how a job whose loss became NaN is marked


class OutputFolder(Callback):
    """The run's or the sweep's folder, made before Hydra makes it: where it cannot be (a file
    in its path, a read-only disk), one line says so instead of Hydra's traceback."""

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        make_folder(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        make_folder(config.hydra.sweep.dir)


def make_folder(folder: str) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        refuse(one_line(err) or str(err))


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        task = OmegaConf.to_container(config.hydra.overrides.task)
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params else {}
        keys = swept_keys(task, params)
        # Each job's config is composed again from these overrides: the keys reach every job,
        # in this process or in a launcher's worker, and its environment (hydra.job.env_set).
        # The sweep's folder is fixed as the multirun resolves it, so jobs of different
        # experiments (`-m experiment=a,b`) share it instead of each resolving its own.
        sweep_dir = OmegaConf.select(config, "hydra.sweep.dir")
        check_continuation(config, Path(sweep_dir), task)
        overrides = [
            f"++hydra.job.env_set.{SWEPT_KEYS_VAR}='{' '.join(keys)}'",
            f"hydra.sweep.dir='{sweep_dir}'",
        ]
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.extend(overrides)
            config.hydra.sweep.dir = sweep_dir

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from dl101.results.sweep_summary import summarize_sweep  # torch, matplotlib: only now

        runs = summarize_sweep(Path(config.hydra.sweep.dir))
        if failed := crashed(runs):  # a NaN loss is a trial's outcome; anything else fails it
            raise SystemExit(f"{len(failed)} of {len(runs)} sweep jobs failed (listed above)")


def check_continuation(config: DictConfig, sweep_dir: Path, task: list[str]) -> None:
    """A command given a sweep's folder continues that sweep (`dl101.run.sweep_jobs`): only
    with the sweep's own overrides, so that its runs are never mixed with another's; and only
    where its sweeper can continue (Optuna: from a study kept in storage)."""
    saved = sweep_dir / "multirun.yaml"
    if not saved.is_file():
        return
    before = list(OmegaConf.load(saved).hydra.overrides.task)
    if sorted(before) != sorted(task):
        theirs = " ".join(sorted(set(before) - set(task))) or "(none)"
        yours = " ".join(sorted(set(task) - set(before))) or "(none)"
        refuse(
            f"hydra.sweep.dir={sweep_dir} holds a sweep of other overrides (there: {theirs}; "
            f"here: {yours}): continue it with its own command, or give another hydra.sweep.dir"
        )
    sweeper = config.hydra.sweeper
    if "optuna" in str(sweeper.get("_target_", "")).lower() and not sweeper.get("storage"):
        refuse(
            f"hydra.sweep.dir={sweep_dir}: its Optuna study was kept in memory and is gone "
            "(hydra.sweeper.storage=null): run it in a new folder, with "
            "hydra.sweeper.storage=sqlite:///study.db to make it one that can continue"
        )
    print(f"Continuing the sweep in {sweep_dir}: finished jobs are kept, a killed one resumes")


def refuse(line: str) -> None:
    print(f"Error: {line}", file=sys.stderr)
    raise SystemExit(1)  # not an Exception: Hydra's callback loop lets it through


def crashed(runs: list) -> list:
    """The jobs that failed for another reason than a NaN loss."""
    return [run for run in runs if run.failed and not run.failed.startswith(NON_FINITE)]
