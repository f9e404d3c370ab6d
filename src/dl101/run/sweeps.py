"""A sweep's life in one place: what it does when it starts (the keys it varies, which name its
jobs; a continuation checked; its folder pinned), when it runs a job, and when it ends (its
summary, its failures counted).

A sweep continues where it stopped: typing the same `-m` command with
`hydra.sweep.dir=<its folder>` runs it again, and each job first reads its own folder. A job
that finished is kept as it is (not trained again: its event files and checkpoints untouched);
the job that was killed resumes from its own `last.ckpt`, in its own folder, its TensorBoard
curve carrying on; a job killed before its first checkpoint, or never started, runs anew.
A job that failed (a NaN loss) stays failed: its folder says why; delete it to run it again."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dl101.files import write_atomic
from dl101.results.job_names import (
    FAILED_MARKER,
    FINISHED_MARKER,
    SWEPT_KEYS_VAR,
    is_optuna,
    swept_keys,
)
from dl101.run.hydra_callbacks import refuse

log = logging.getLogger(__name__)
NON_FINITE = "NonFiniteLossError"  # how a job whose loss became NaN is marked

KEEP = {".hydra", FAILED_MARKER}  # what a job folder holds before it trains


def job_state(folder: Path) -> str:
    """`finished`, `failed`, `killed` (it started training and did not end) or `new`."""
    from dl101.results.runs import JUDGED_BY  # TensorBoard's reader: not at every command's start

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


# Jobs trained in a stacked group by this process's launcher (hydra/launcher=stacked), by folder:
# which group, and whether the job failed there.
STACKED: dict[Path, tuple[str, bool]] = {}


def note_stacked(folder: Path, group: str, failed: bool) -> None:
    STACKED[Path(folder).resolve()] = (group, failed)


def run_sweep_job(cfg: DictConfig) -> dict[str, float] | None:
    """One job of a sweep, from what its folder holds: kept where it finished or failed before,
    resumed where it was killed, else trained anew; a job that fails is marked so (its folder
    says why) and the other jobs still run. Its final metrics; None for a failed job."""
    folder = Path(HydraConfig.get().runtime.output_dir)
    state = job_state(folder)
    if (stacked := STACKED.get(folder.resolve())) is not None:
        group, failed = stacked
        log.info(f"{'Failed' if failed else 'Trained'} in {group}: {folder}")
        return None if failed else finished_metrics(folder)
    if state == "finished":  # a continued sweep keeps what its jobs finished
        log.info(f"Kept: {folder.name} finished before ({folder})")
        return finished_metrics(folder)
    if state == "failed":
        log.info(f"Kept: {folder.name} failed before ({folder / FAILED_MARKER})")
        return None
    cfg = resume_killed(cfg, folder)  # killed: from its last.ckpt; new: anew
    from dl101.run.training import train  # torch and Lightning: once a job trains here

    try:
        return train(cfg)
    except Exception as err:
        # In a sweep a failed job is one failed trial (Optuna records NaN as a failure):
        # its folder says why, the other jobs still run, and the summary lists it.
        log.exception(f"This sweep job failed: {err}")
        mark_failed(folder, err)
        return None


def mark_failed(output_dir: str | Path, err: Exception) -> None:
    """A failed sweep job's reason, in its folder, where the sweep's summary lists it."""
    Path(output_dir).mkdir(parents=True, exist_ok=True)  # it may have failed before starting
    (Path(output_dir) / FAILED_MARKER).write_text(f"{type(err).__name__}: {err}\n")


def jobs_side_by_side() -> int | None:
    """Under the joblib launcher, how many sweep jobs run at once (its n_jobs, counted as joblib
    does: -1 = one per core, -2 = all cores but one); None under any other launcher."""
    if not HydraConfig.initialized():
        return None
    launcher = HydraConfig.get().launcher
    if "Joblib" not in str(launcher.get("_target_", "")):
        return None
    n_jobs = launcher.get("n_jobs") or 1
    return max(1, (os.cpu_count() or 1) + 1 + n_jobs) if n_jobs < 0 else n_jobs


# The sweep's start and end (Hydra callbacks: conf/hydra/default.yaml).


class SweepSummary(Callback):
    """Every multirun: the keys it varies found at its start (they name its jobs), its summary
    at its end (`dl101.results.sweep_summary`), even when some jobs failed."""

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


def summary_imports() -> None:
    """What a sweep's summary imports (tensorboard's reader, matplotlib, scipy.stats: about
    1.5 s here), for a launcher to load while it waits on its workers."""
    import scipy.stats  # noqa: F401  (Welch's t-test)

    import dl101.results.figures  # noqa: F401  (matplotlib)
    import dl101.results.sweep_summary  # noqa: F401


def check_continuation(config: DictConfig, sweep_dir: Path, task: list[str]) -> None:
    """A command given a sweep's folder continues that sweep (`run_sweep_job`): only
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
    if is_optuna(sweeper.get("_target_")) and not sweeper.get("storage"):
        refuse(
            f"hydra.sweep.dir={sweep_dir}: its Optuna study was kept in memory and is gone "
            "(hydra.sweeper.storage=null): run it in a new folder, with "
            "hydra.sweeper.storage=sqlite:///study.db to make it one that can continue"
        )
    print(f"Continuing the sweep in {sweep_dir}: finished jobs are kept, a killed one resumes")


def crashed(runs: list) -> list:
    """The jobs that failed for another reason than a NaN loss."""
    return [run for run in runs if run.failed and not run.failed.startswith(NON_FINITE)]
