"""`make notebooks`: run every notebook in notebooks/ headless, as a reader would from the top,
at its small budget; the executed copies (with outputs) go to logs/notebooks/. Fails on the
first cell error, naming the notebook and the cell. With --export (`make docs`), each executed
notebook is also written as Markdown + PNGs (docs/course/<name>.md, <name>_files/): the course
with its outputs, readable on the repository's pages and in the docs site.

    python scripts/run_notebooks.py [notebooks/02_mlp.ipynb ...] [--export docs/course]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import MarkdownExporter
from rich.console import Console
from tensorboard import manager

from dl101 import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"
TARGET_SECONDS = 240  # each notebook at its default budget, on a 2-core CPU


def execute(path: Path, out_dir: Path, cell_timeout: int = 900) -> float:
    """Run the notebook from its own folder; write the executed copy; return its seconds."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=cell_timeout, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )  # fmt: skip
    start = time.perf_counter()
    try:
        client.execute()
    finally:
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out_dir / path.name)
    return time.perf_counter() - start


def export(notebook: nbformat.NotebookNode, name: str, out_dir: Path) -> Path:
    """An executed notebook as Markdown with its figures beside it (out_dir/<name>_files/, the
    old ones removed first); paths of this machine shortened to the checkout's own."""
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "%tensorboard" in cell.source:
            cell.outputs = []  # the frame of a live TensorBoard server: nothing without one
    body, resources = MarkdownExporter().from_notebook_node(
        notebook, resources={"output_files_dir": f"{name}_files"}
    )
    shutil.rmtree(out_dir / f"{name}_files", ignore_errors=True)
    for relative, data in resources["outputs"].items():
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / relative).write_bytes(data)
    page = out_dir / f"{name}.md"
    page.write_text(body.replace(f"{PROJECT_ROOT}/", "").replace(str(PROJECT_ROOT), "."))
    return page


def stop_tensorboards(started_after: float) -> None:
    """The TensorBoard servers the notebooks' `%tensorboard` cells started: stopped."""
    for info in manager.get_all():
        if info.start_time >= started_after:
            with contextlib.suppress(ProcessLookupError):  # already gone
                os.kill(info.pid, signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/*.ipynb")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "logs" / "notebooks")
    parser.add_argument("--export", type=Path, help="also write each as Markdown + PNGs here")
    args = parser.parse_args(argv)
    console = Console()
    started = time.time()
    try:
        for path in args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb")):
            try:
                seconds = execute(path.resolve(), args.out)
            except CellExecutionError as err:
                console.print(f"[red]{path.name}: a cell failed[/] (executed copy in {args.out})")
                console.print(str(err)[-3000:], markup=False, highlight=False)
                sys.exit(1)
            note = "" if seconds <= TARGET_SECONDS else f" [yellow](over {TARGET_SECONDS} s)[/]"
            console.print(f"{path.name}: {seconds:.0f} s{note}")
            if args.export:
                executed = nbformat.read(args.out / path.name, as_version=4)
                console.print(f"  -> {export(executed, path.stem, args.export)}")
    finally:
        stop_tensorboards(started)
    console.print(f"Executed notebooks, with their outputs: {args.out}")


if __name__ == "__main__":
    main()
