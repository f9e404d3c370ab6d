"""Whole commands timed as a user types them, side by side in one run (`make bench`'s second
table): the CLI's answer, a course run's time outside its fit against a bare Lightning import,
and the regularization sweep's wall time against the sum of its fits (its jobs stacked:
`benchmarks.stacked_sweeps` compares it with the launchers that train one job at a time)."""

from __future__ import annotations

import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dl101 import PROJECT_ROOT
from dl101.results.runs import find_runs, read_events
from dl101.results.tables import fmt

PYTHON = [sys.executable]
TRAIN = [*PYTHON, "-m", "dl101.train"]
QUIET = ["callbacks.progress_bar.refresh_rate=0"]  # the output goes to a log file
GROUPING = re.compile(r"Stacked launcher: (.*)")


def timed(command: list[str], log_path: str) -> float:
    """Wall seconds of `command`, its output appended to the log; fails on an error."""
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        start = time.perf_counter()
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
    return time.perf_counter() - start


def shown(command: list[str]) -> str:
    return shlex.join(["python", *command[1:]])


def startup_rows(log_path: str, repeats: int) -> tuple[dict, dict]:
    """`import pytorch_lightning` alone, and `--help`: medians of `repeats`, interleaved."""
    lightning = [*PYTHON, "-c", "import pytorch_lightning"]
    help_ = [*TRAIN, "--help"]
    times: dict[str, list[float]] = {"import": [], "help": []}
    for _ in range(repeats):
        times["import"].append(timed(lightning, log_path))
        times["help"].append(timed(help_, log_path))
    imported = statistics.median(times["import"])
    help_s = statistics.median(times["help"])
    return (
        {"command": shown(lightning), "wall_s": imported, "target": "(reference)", "met": None,
         "result": f"median of {repeats}"},
        {"command": shown(help_), "wall_s": help_s, "target": "<= 1.0 s", "met": help_s <= 1.0,
         "result": f"median of {repeats}"},
    )  # fmt: skip


def course_run_row(experiment: str, log_path: str, target: str, met) -> dict:
    """One course experiment, whole: its fit (RunStats' `stats/fit_seconds`: training with its
    validations and checkpoints) apart from the rest of its wall time."""
    command = [*TRAIN, f"experiment={experiment}"]
    with tempfile.TemporaryDirectory() as out_dir:
        wall = timed([*command, *QUIET, f"hydra.run.dir={out_dir}"], log_path)
        scalars, _ = read_events(Path(out_dir))
    fit = scalars["stats/fit_seconds"][-1][1]
    curve = [value for step, value in scalars.get("test_curve/acc", []) if step % 500 == 0]
    result = (
        "test acc every 500 steps: " + " ".join(f"{v:.4f}" for v in curve)
        if curve
        else f"test acc {fmt(scalars['test/acc'][-1][1])}"
    )
    row = {"command": shown(command), "wall_s": wall, "fit_s": fit, "rest_s": wall - fit}
    return {**row, "target": target, "met": met(row), "result": result}


def sweep_row(log_path: str) -> dict:
    """The regularization sweep as `make sweep-regularization` runs it (its jobs stacked: the
    stacked-sweeps table compares it with the other launchers)."""
    command = [*TRAIN, "sweep=regularization", *QUIET]
    with tempfile.TemporaryDirectory() as tmp:
        wall = timed([*command, f"hydra.sweep.dir={tmp}"], log_path)
        runs = find_runs(Path(tmp))
        fits = sum(run.final("stats/fit_seconds") or 0.0 for run in runs)
    grouping = GROUPING.findall(Path(log_path).read_text())[-1]
    return {"command": "make sweep-regularization", "wall_s": wall, "fit_s": fits, "rest_s": None,
            "target": "<= 45 s", "met": wall <= 45.0, "result": grouping}  # fmt: skip


def command_rows(log_path: str, repeats: int = 3) -> list[dict]:
    imported, help_row = startup_rows(log_path, repeats)
    limit = imported["wall_s"] + 1.0
    return [
        imported,
        help_row,
        course_run_row(
            "course_logreg", log_path, f"rest <= import + 1 s = {limit:.1f} s",
            lambda row: row["rest_s"] <= limit,
        ),
        course_run_row("course_rnn", log_path, "fit < 90 s", lambda row: row["fit_s"] < 90),
        sweep_row(log_path),
    ]  # fmt: skip


COMMAND_COLUMNS = ("command", "wall s", "fit s", "rest s", "target", "met", "result")


def command_cells(row: dict) -> list[str]:
    met = "" if row["met"] is None else "yes" if row["met"] else "NO"
    return [
        f"`{row['command']}`",
        fmt(row["wall_s"], ".1f"),
        fmt(row.get("fit_s"), ".1f"),
        fmt(row.get("rest_s"), ".1f"),
        row["target"],
        met,
        row["result"],
    ]
