"""A Hydra callback for every multirun: at its start, find the keys it varies (they name its
jobs); at its end, its summary (`dl101.sweep_summary`), even when some jobs failed."""

from __future__ import annotations

from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dl101.sweep_names import SWEPT_KEYS_VAR, swept_keys

NON_FINITE = "NonFiniteLossError"  # how a job whose loss became NaN is marked


class SweepSummary(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        task = OmegaConf.to_container(config.hydra.overrides.task)
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params else {}
        keys = swept_keys(task, params)
        # Each job's config is composed again from these overrides: the keys reach every job,
        # in this process or in a launcher's worker, and its environment (hydra.job.env_set).
        override = f"++hydra.job.env_set.{SWEPT_KEYS_VAR}='{' '.join(keys)}'"
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(override)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        from dl101.sweep_summary import summarize_sweep  # torch, matplotlib: only now

        runs = summarize_sweep(Path(config.hydra.sweep.dir))
        if failed := crashed(runs):  # a NaN loss is a trial's outcome; anything else fails it
            raise SystemExit(f"{len(failed)} of {len(runs)} sweep jobs failed (listed above)")


def crashed(runs: list) -> list:
    """The jobs that failed for another reason than a NaN loss."""
    return [run for run in runs if run.failed and not run.failed.startswith(NON_FINITE)]
