"""hydra/launcher=stacked: Hydra's basic launcher, after the sweep's jobs that can train
together have trained as stacked groups (`dl101.stacked.grouping`). Hydra finds launchers in the
`hydra_plugins` package only; the work is dl101's."""

from __future__ import annotations

import copy
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from omegaconf import open_dict


class StackedLauncher(BasicLauncher):
    def __init__(self, max_group_size: int | None = None) -> None:
        super().__init__()
        self.max_group_size = max_group_size

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        # The basic sweeper composes every job's config to check it before launching; the
        # launcher needs them all at once too: each is composed once (about 0.15 s a job).
        loader = hydra_context.config_loader
        compose, composed = loader.load_sweep_config, {}

        def load_sweep_config(master_config, sweep_overrides):
            key = tuple(sweep_overrides)
            if key not in composed:
                composed[key] = compose(master_config, sweep_overrides)
            return copy.deepcopy(composed[key])

        loader.load_sweep_config = load_sweep_config

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        from dl101.stacked.grouping import train_stacked  # torch and Lightning: only now

        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        configs = []
        for idx, overrides in enumerate(job_overrides, initial_job_idx):
            config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides)
            )
            with open_dict(config):
                config.hydra.job.id = idx
                config.hydra.job.num = idx
            configs.append(config)
        train_stacked(configs, sweep_dir, self.max_group_size)
        runs = []
        for config in configs:  # every job, as the basic launcher runs it
            runs.append(
                run_job(
                    hydra_context=self.hydra_context,
                    task_function=self.task_function,
                    config=config,
                    job_dir_key="hydra.sweep.dir",
                    job_subdir_key="hydra.sweep.subdir",
                )
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return runs
