"""A finished run's last words: its final metrics, where its outputs are, and the commands that
look at them again, typed so that they work as printed."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def override(key: str, value: str) -> str:
    """`key=value` as typed in a shell: quoted for Hydra (and the shell) where the value holds
    characters of Hydra's override grammar, such as a sweep job's `lr=0.01,seed=1` folder."""
    if re.fullmatch(r"[\w./+-]*", value):
        return f"{key}={value}"
    return f"'{key}=\"{value}\"'"


def venv_command(program: str) -> str:
    """`program` as this environment's own, typed so that it works as shown: bare when its venv
    is active, else its path (relative to the current folder where it lies below it)."""
    if os.environ.get("VIRTUAL_ENV") == sys.prefix:
        return program
    path = Path(sys.executable).parent / program
    return str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)


def print_summary(
    metrics: dict[str, float],
    output_dir: str,
    checkpoint: str | None = None,
    provenance: dict | None = None,
) -> None:
    """A finished run's final metrics, where its outputs are, how to look at them, and the
    command that reproduces it (with the code it ran, where that had uncommitted changes)."""
    table = Table(title="Final metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(metrics.items()):
        table.add_row(name, f"{value:.4f}")
    console = Console()
    console.print(table)
    console.print(f"Logs and checkpoints: [bold]{output_dir}[/]")
    if checkpoint:
        again = f"{venv_command('python')} -m dl101.evaluate {override('ckpt_path', checkpoint)}"
        console.print(f"Test it again: {again}", markup=False, soft_wrap=True)
    board = f"{venv_command('tensorboard')} --logdir {Path(output_dir).parent}"
    console.print(f"Open TensorBoard: [bold]make tensorboard[/]  (or: {board})", soft_wrap=True)
    if provenance and provenance.get("reproduce"):
        console.print(f"Reproduce it: {provenance['reproduce']}", markup=False, soft_wrap=True)
        for name, code in provenance.get("code", {}).items():
            if code.get("dirty"):
                console.print(
                    f"  with {name}'s code at {code['commit']} and its uncommitted changes: "
                    f"git -C {code['path']} apply {code['diff']}",
                    markup=False,
                    soft_wrap=True,
                )
