"""The course in a Jupyter notebook. A section shows the package's own code from its source
(`show_source`) and checks it against a worked example on a model built as a run builds it
(`build`). Each experiment then runs as `make course` runs it: its command line,
`python -m dl101.train -m ...` with its args, budget and seeds from conf/budget/ (`notebook` by
default, `full` with FULL), in its own process (sweep jobs side by side where the preset says
so), its output in a log file beside its runs; the notebook shows the course's numbers beside
ours and the course's figures, drawn by the functions `make course` uses."""

from __future__ import annotations

import inspect
import math
import os
import sys
import textwrap
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf, open_dict
from rich.console import Console

from dl101 import CONFIG_DIR, PROJECT_ROOT
from dl101.course.runner import experiment_overrides, run_experiments
from dl101.results.runs import Run, find_runs

# `%tensorboard` looks for `tensorboard` on PATH, which a kernel started from a venv may lack.
_BOARD = Path(sys.executable).parent / "tensorboard"
if _BOARD.is_file():
    os.environ.setdefault("TENSORBOARD_BINARY", str(_BOARD))


def compose_train(overrides: list[str]) -> DictConfig:
    """`python -m dl101.train overrides` composed with Hydra's compose API (hydra config too)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def log_dir() -> Path:
    """Where runs go: logs/ of the checkout, or $DL101_LOG_DIR."""
    return Path(compose_train([]).paths.log_dir)


def show_source(*objects):
    """Each function's or class's source as the package holds it, under its file and line: the
    code a cell shows is the code the experiments run."""
    from IPython.display import Markdown

    blocks = []
    for obj in objects:
        lines, start = inspect.getsourcelines(obj)
        path = Path(inspect.getsourcefile(obj)).resolve()
        where = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path.name
        name = f"{obj.__module__}.{obj.__qualname__}"
        code = textwrap.dedent("".join(lines)).rstrip()
        blocks.append(f"`{name}` ({where}, line {start}):\n\n```python\n{code}\n```")
    return Markdown("\n\n".join(blocks))


def build(overrides: list[str] = ()):
    """The model and datamodule that `python -m dl101.train overrides` trains, built as the run
    builds them (seeded, the data telling the model what it needs), before any training."""
    from dl101.run.training import build as build_run  # torch, Lightning: only now

    cfg = compose_train(list(overrides))
    with open_dict(cfg):
        del cfg.hydra
    return build_run(cfg)


def course_experiments(full: bool = False) -> dict:
    """`make course`'s experiments at the notebooks' budget (the course's own wherever that is
    quick) or, with `full`, at the full one."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(CONFIG_DIR, version_base="1.3"):
        cfg = compose("course", overrides=[f"budget={'full' if full else 'notebook'}"])
    return OmegaConf.to_container(cfg.budget.experiments, resolve=True)


def run_course_experiment(name: str, full: bool = False) -> list[Run]:
    """A course experiment as `make course` runs it (`full`: its full budget; else the
    notebooks'): its command line in its own process, into logs/notebooks/<time>/<name>/ with
    its output in <name>.log there; returns its runs, read back from their folders."""
    spec = course_experiments(full)[name]
    runs_dir = log_dir() / "notebooks" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
    runs_dir.mkdir(parents=True)
    if name not in run_experiments({name: spec}, runs_dir, Console()):
        log = (runs_dir / f"{name}.log").read_text().strip().splitlines()
        raise RuntimeError(f"{name} failed; the end of its log ({runs_dir}/{name}.log):\n"
                           + "\n".join(log[-15:]))  # fmt: skip
    return find_runs(runs_dir / name)


def experiment_config(name: str, full: bool = False) -> str:
    """What a course experiment composes: its command line, what it sweeps over (the preset's
    and the command line's values), then the model, data and trainer of its first job."""
    overrides = experiment_overrides(course_experiments(full)[name])
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    cfg = compose_train([o.input_line for o in parsed if not o.is_sweep_override()])
    params = [f"{key}={value}" for key, value in (cfg.hydra.sweeper.get("params") or {}).items()]
    sweeps = [o.input_line for o in parsed if o.is_sweep_override()]  # these win, as in Hydra
    values = {
        o.key_or_group: list(o.sweep_string_iterator())
        for o in parser.parse_overrides([*params, *sweeps])
        if o.is_sweep_override()
    }
    lines = [f"# python -m dl101.train -m {' '.join(overrides)}"]
    if values:
        jobs = math.prod(len(v) for v in values.values())
        varied = "; ".join(f"{key} = {', '.join(v)}" for key, v in values.items())
        lines += [f"# {jobs} jobs: {varied}"]
        lines += ["# the config they share (each sets its own values of the keys above):"]
    shown = {key: cfg[key] for key in ("model", "data", "trainer") if key in cfg}
    return "\n".join(lines) + "\n" + OmegaConf.to_yaml(shown)


def course_table(name: str, runs: list[Run], full: bool = False) -> str:
    """Markdown: each number the course prints for this experiment beside ours, then a sweep's
    own summary (one row per setting, mean ± std over its seeds)."""
    from dl101.course.report import course_rows, sweep_table  # torch: only now

    spec = course_experiments(full)[name]
    tables = ["\n".join(course_rows({name: spec}, {name: runs}))] if spec.get("rows") else []
    if (runs[0].lookup("report") or {}).get("group_by"):
        tables.append("\n".join(sweep_table(runs)))
    return "\n\n".join(tables) or "The course prints no number for this experiment."


def show_figure(figure, name: str):
    """A matplotlib figure drawn by the package (dl101.course.illustrations), saved as
    logs/notebooks/figures/<name>.png and shown in the notebook (and in its exported page)."""
    from IPython.display import Image

    from dl101.course.figures import save  # matplotlib: only now

    return Image(filename=save(figure, log_dir() / "notebooks" / "figures" / f"{name}.png"))


def course_figures(runs: dict[str, list[Run]], full: bool = False) -> list[Path]:
    """The course's figures for these experiments, drawn as `make course` draws them, as PNG
    files under logs/notebooks/figures/."""
    from dl101.course.report import draw_figures  # matplotlib, torch: only now

    experiments = course_experiments(full)
    out = log_dir() / "notebooks" / "figures"
    out.mkdir(parents=True, exist_ok=True)
    drawn = draw_figures({name: experiments[name] for name in runs}, runs, out)
    return list(drawn.values())
