"""The course in a Jupyter notebook. Each experiment runs as `make course` runs it (its args,
budget and seeds from conf/budget/), every job composed with Hydra's compose API and trained
in-process by `train(cfg)` into the same logs/ layout as `python -m dl101.train -m`; then the
notebook shows the sweep's summary, the course's numbers beside ours and the course's figures,
all drawn by the functions `make course` uses."""

from __future__ import annotations

import itertools
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from dl101 import CONFIG_DIR
from dl101.config import start_run
from dl101.course.runner import experiment_overrides
from dl101.multirun import crashed
from dl101.runs import Run, find_runs
from dl101.sweep_names import job_name, swept_keys

log = logging.getLogger(__name__)

# `%tensorboard` looks for `tensorboard` on PATH, which a kernel started from a venv may lack.
_BOARD = Path(sys.executable).parent / "tensorboard"
if _BOARD.is_file():
    os.environ.setdefault("TENSORBOARD_BINARY", str(_BOARD))

# Jobs run one after another in the kernel (all cores each), with no progress bar redraws in
# the cell's output.
IN_A_CELL = ["hydra/launcher=basic", "callbacks.progress_bar.refresh_rate=0"]
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def compose_train(overrides: list[str]) -> DictConfig:
    """`python -m dl101.train overrides` composed with Hydra's compose API (hydra config too)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def log_dir() -> Path:
    """Where runs go: logs/ of the checkout, or $DL101_LOG_DIR."""
    return Path(compose_train([]).paths.log_dir)


def course_experiments(full: bool = False) -> dict:
    """`make course`'s experiments at the small (budget=fast) or the full budget."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("course", overrides=[f"budget={'full' if full else 'fast'}"])
    return OmegaConf.to_container(cfg.budget.experiments, resolve=True)


def sweep_jobs(overrides: list[str]) -> tuple[list[list[str]], list[str]]:
    """The overrides of each job of `python -m dl101.train -m overrides`, in the order Hydra's
    basic sweeper runs them (the preset's `hydra.sweeper.params`, then the command line's
    sweeps), and the keys they vary."""
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    params = compose_train(fixed).hydra.sweeper.get("params")
    params = OmegaConf.to_container(params, resolve=False) if params else {}
    lines = [f"{key}={value}" for key, value in params.items()]
    lines += [o.input_line for o in parsed if o.is_sweep_override()]
    choices: dict[str, list[str]] = {}
    for override in parser.parse_overrides(lines):  # a later line for a key wins, as in Hydra
        values = (
            override.sweep_string_iterator()
            if override.is_sweep_override()
            else [override.get_value_element_as_str()]
        )
        choices[override.key_or_group] = [f"{override.get_key_element()}={v}" for v in values]
    jobs = [[*fixed, *combination] for combination in itertools.product(*choices.values())]
    return jobs, swept_keys([o.input_line for o in parsed], params)


def run_sweep(overrides: list[str], quiet: bool = True) -> Path:
    """Every job of `python -m dl101.train -m overrides`, trained here one after another into
    logs/train/multiruns/<experiment_name>/<time>/<job>, then the sweep's summary printed and
    written (report.md, mean/ and summary/ runs), as the command line's multirun ends."""
    from dl101.sweep_summary import summarize_sweep  # torch, Lightning: only now
    from dl101.training import mark_failed, train

    jobs, keys = sweep_jobs(overrides)
    first = compose_train(jobs[0])
    sweep_dir = Path(first.paths.log_dir) / first.task_name / "multiruns" / first.experiment_name
    sweep_dir /= datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
    summary = quiet and len(jobs) > 1 and (first.get("callbacks") or {}).get("model_summary")
    extra = [*IN_A_CELL, *(["~callbacks.model_summary"] if summary else [])]
    for name in ("pytorch_lightning", "lightning_fabric"):  # "GPU available: False" and tips
        logging.getLogger(name).setLevel(logging.WARNING)
    for num, job in enumerate(jobs):
        folder = sweep_dir / job_name(num, job, " ".join(keys), BASIC_SWEEPER)
        try:
            train(start_run([*job, *extra], folder, job_num=num, swept=keys))
        except Exception as err:  # as in a multirun: the job is listed as failed, others run
            log.warning(f"Sweep job {folder.name} failed: {err}")
            mark_failed(folder, err)
    if failed := crashed(summarize_sweep(sweep_dir)):
        raise RuntimeError(f"{len(failed)} sweep jobs failed (listed above)")
    return sweep_dir


def run_course_experiment(name: str, full: bool = False) -> list[Run]:
    """A course experiment as `make course` (FULL: its full budget; else budget=fast) runs it,
    in this process; returns its runs, read back from their folders."""
    spec = course_experiments(full)[name]
    return find_runs(run_sweep(experiment_overrides(spec)))


def experiment_config(name: str, full: bool = False) -> str:
    """What a course experiment composes: its command line, then the model, data and trainer
    sections of its first job's config."""
    overrides = experiment_overrides(course_experiments(full)[name])
    jobs, _ = sweep_jobs(overrides)
    cfg = compose_train(jobs[0])
    shown = {key: cfg[key] for key in ("model", "data", "trainer") if key in cfg}
    command = f"python -m dl101.train -m {' '.join(overrides)}"
    return f"# {command}\n# ({len(jobs)} jobs; the first one's config)\n" + OmegaConf.to_yaml(shown)


def course_table(name: str, runs: list[Run], full: bool = False) -> str:
    """Markdown: each number the course prints for this experiment beside ours."""
    from dl101.course.report import course_rows  # torch: only now

    return "\n".join(course_rows({name: course_experiments(full)[name]}, {name: runs}))


def course_figures(runs: dict[str, list[Run]], full: bool = False) -> list[Path]:
    """The course's figures for these experiments, drawn as `make course` draws them, as PNG
    files under logs/notebooks/figures/."""
    from dl101.course.report import draw_figures  # matplotlib, torch: only now

    experiments = course_experiments(full)
    out = log_dir() / "notebooks" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    drawn = draw_figures({name: experiments[name] for name in runs}, runs, out)
    return list(drawn.values())
