"""`make notebooks` as CI runs it: every notebook executed headless from the top at its small
budget, failing on any cell error; the numbers a notebook prints equal a command-line run's."""

from __future__ import annotations

import time

import nbformat
import pytest
from scripts.run_notebooks import NOTEBOOKS, TARGET_SECONDS, execute, stop_tensorboards

from dl101.course.report import course_rows
from dl101.course.runner import experiment_overrides
from dl101.notebook import course_experiments
from dl101.results.runs import find_runs
from tests.helpers import run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def executed(mnist_dir, tmp_path_factory):
    """Every notebook run with its own logs folder: name -> (executed notebook, seconds)."""
    logs = tmp_path_factory.mktemp("notebook_logs")
    started, results = time.time(), {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DL101_LOG_DIR", str(logs))  # the kernels inherit it
        try:
            for path in sorted(NOTEBOOKS.glob("*.ipynb")):
                seconds = execute(path, logs / "executed")
                results[path.stem] = (nbformat.read(logs / "executed" / path.name, 4), seconds)
        finally:
            stop_tensorboards(started)
    return logs, results


def test_every_notebook_runs_without_error_in_its_time(executed):
    _, results = executed
    assert len(results) == 4
    for name, (notebook, seconds) in results.items():
        errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                  if o.output_type == "error"]  # fmt: skip
        assert not errors, name
        assert seconds < 2 * TARGET_SECONDS, f"{name}: {seconds:.0f} s"  # 3 min, with slack
        images = sum("image/png" in o.get("data", {}) for c in notebook.cells
                     for o in c.get("outputs", []))  # fmt: skip
        assert images >= 1, f"{name}: no figure shown"


def test_the_numbers_a_notebook_prints_are_a_command_line_runs(executed, tmp_path):
    """Notebook 01's table for logistic regression against `python -m dl101.train -m` with the
    same overrides: every row (test accuracy and loss at each 500 iterations) the same."""
    _, results = executed
    spec = course_experiments(full=False)["logreg"]
    run_module("dl101.train", "-m", *experiment_overrides(spec), f"hydra.sweep.dir={tmp_path}",
               "callbacks.progress_bar.refresh_rate=0")  # fmt: skip
    expected = course_rows({"logreg": spec}, {"logreg": find_runs(tmp_path)})[2:]
    notebook, _ = results["01_linear_networks"]
    printed = "\n".join(
        o["data"].get("text/markdown", "")
        for c in notebook.cells if c.cell_type == "code"
        for o in c.outputs if o.output_type == "display_data"
    )  # fmt: skip
    assert len(expected) == 12
    for row in expected:
        assert row in printed, row
