"""hydra/launcher=stacked: Hydra's basic launcher, after the sweep's jobs that can train
together have trained as stacked groups (`dl101.stacked.grouping`), side by side in `processes`
worker processes (`dl101.stacked.workers`: started here, while the sweeper composes the jobs'
configs). Hydra finds launchers in the `hydra_plugins` package only; the work is dl101's."""

from __future__ import annotations

import threading
from pathlib import Path

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.utils import JobReturn, configure_log, run_job, setup_globals
from omegaconf import open_dict


class StackedLauncher(BasicLauncher):
    def __init__(self, max_group_size: int | None = None, processes: int | str = "auto") -> None:
        super().__init__()
        self.max_group_size = max_group_size
        self.processes = processes
        self.workers = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        # The basic sweeper composes every job's config to check it before launching, and the
        # launcher again: each distinct choice of config groups is composed once.
        from dl101.run.sweep_configs import ComposeOnce

        loader = hydra_context.config_loader
        loader.load_sweep_config = ComposeOnce(loader).load_sweep_config
        from dl101.stacked.workers import GroupProcesses, default_processes

        processes = self.processes
        if processes == "auto":
            processes = default_processes(str(config.get("trainer", {}).get("accelerator", "auto")))
        if not isinstance(processes, int) or processes < 0:
            from dl101.errors import ConfigError

            raise ConfigError(
                f"hydra.launcher.processes={self.processes!r}: give auto, 0 (train in this "
                "process) or a number of worker processes"
            )
        self.workers = GroupProcesses(processes) if processes > 0 else None

    def close_workers(self, stopped: bool = False) -> None:
        if self.workers is not None:
            self.workers.close(stopped)
            self.workers = None

    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        from dl101.run.sweeps import summary_imports
        from dl101.stacked.grouping import train_stacked

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
        # This process waits while its workers import torch and train: the summary's imports
        # meanwhile.
        threading.Thread(target=summary_imports, daemon=True).start()
        runs: dict[int, JobReturn] = {}

        def run(index: int) -> None:  # a job, as the basic launcher runs it
            runs[index] = run_job(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=configs[index],
                job_dir_key="hydra.sweep.dir",
                job_subdir_key="hydra.sweep.subdir",
            )
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)

        # A group's jobs run as soon as it has trained, while the groups still training use the
        # other cores; the jobs that trained in no group run last.
        index = {id(config): n for n, config in enumerate(configs)}

        def trained(members) -> None:
            for member in members:
                run(index[id(member.job_config)])

        try:
            train_stacked(configs, sweep_dir, self.max_group_size, self.workers, trained)
        except BaseException:
            self.close_workers(stopped=True)
            raise
        self.close_workers()
        for n in range(len(configs)):
            if n not in runs:
                run(n)
        return [runs[n] for n in range(len(configs))]
