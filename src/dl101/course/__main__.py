"""Reproduce the course: run every experiment behind its numbers, tables and figures (each as
`python -m dl101.train -m ...`, one process per experiment, its output in a log file), then
write reports/course.md and its figures from the runs' TensorBoard event files (a complete
full-budget run also writes the copy the repository shows, docs/course.md and docs/course/).

    python -m dl101.course [budget=fast] [only=[logreg,rnn]] [runs_dir=logs/course/<time>]
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

from dl101 import CONFIG_DIR
from dl101.course.report import write_course_report
from dl101.course.runner import TIMINGS, run_experiments
from dl101.errors import ConfigError, InputError, error_boundary


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="course")
def main(cfg: DictConfig) -> None:
    with error_boundary():
        reproduce(cfg)


def reproduce(cfg: DictConfig) -> None:
    experiments = OmegaConf.to_container(cfg.budget.experiments, resolve=True)
    if cfg.only:
        unknown = sorted(set(cfg.only) - experiments.keys())
        if unknown:
            known = list(experiments)
            raise ConfigError(f"only={list(cfg.only)}: unknown {unknown}; known: {known}")
        experiments = {name: spec for name, spec in experiments.items() if name in cfg.only}
    console = Console()
    if cfg.runs_dir:
        runs_dir = Path(cfg.runs_dir)
        if not runs_dir.is_dir():
            raise InputError(f"runs_dir={cfg.runs_dir}: no such folder (give a make course run's)")
        timings_file = runs_dir / TIMINGS
        timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    else:
        runs_dir = Path(cfg.log_dir) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        runs_dir.mkdir(parents=True)
        console.print(f"Budget [bold]{cfg.budget.name}[/]: {len(experiments)} experiments, "
                      f"runs and their logs in {runs_dir}")  # fmt: skip
        timings = run_experiments(experiments, runs_dir, console)
    report = write_course_report(runs_dir, experiments, cfg.budget.name, timings, Path(cfg.out_dir))
    console.print(f"Report: [bold]{report}[/] (figures in {report.parent / 'figures'})")
    if cfg.budget.name == "full" and not cfg.only and len(timings) == len(experiments):
        # The complete full run is the one the repository shows: docs/course.md, docs/course/.
        docs = write_course_report(
            runs_dir, experiments, cfg.budget.name, timings, Path(cfg.docs_dir), "course"
        )
        console.print(f"Committed copy: [bold]{docs}[/] (figures in {docs.parent / 'course'})")
    if len(timings) < len(experiments) and not cfg.runs_dir:
        sys.exit(1)  # the report is written, but say that something failed


if __name__ == "__main__":
    main()
