"""Run the course's experiments, each as `python -m dl101.train -m ...` in its own process with
its output in a log file, and keep their wall times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from dl101 import PROJECT_ROOT

TIMINGS = "timings.json"


def experiment_overrides(spec: dict) -> list[str]:
    """What `python -m dl101.train -m` gets for a course experiment: its args, budget, seeds."""
    seeds = [f"seed={','.join(map(str, spec['seeds']))}"] if spec.get("seeds") else []
    return [*spec["args"], *(spec.get("budget") or []), *seeds]


def train_command(spec: dict, sweep_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "dl101.train", "-m", *experiment_overrides(spec),
        f"hydra.sweep.dir={sweep_dir}",
        "callbacks.progress_bar.refresh_rate=0",  # the output goes to a log file
    ]  # fmt: skip


def run_experiments(experiments: dict, runs_dir: Path, console: Console) -> dict[str, float]:
    """Each experiment in turn; a failed one is reported and the others still run."""
    timings: dict[str, float] = {}
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}
    for name, spec in experiments.items():
        log_path = runs_dir / f"{name}.log"
        start = time.perf_counter()
        with log_path.open("w") as log:
            result = subprocess.run(
                train_command(spec, runs_dir / name), stdout=log, stderr=subprocess.STDOUT, env=env
            )
        seconds = time.perf_counter() - start
        if result.returncode:
            console.print(f"[red]{spec['section']} {spec['title']}: FAILED[/] (see {log_path})")
            continue
        timings[name] = seconds
        console.print(f"{spec['section']:>8}  {spec['title']}: {seconds:.0f} s")
        (runs_dir / TIMINGS).write_text(json.dumps(timings, indent=2))
    return timings
