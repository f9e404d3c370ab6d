"""The course notebooks: kept without outputs, thin (dl101 does the work), in the reading order
the course needs, covering every experiment of `make course`; and the in-process sweep they use
runs the command line's jobs, with the command line's numbers."""

from __future__ import annotations

import nbformat
import pytest

from dl101 import PROJECT_ROOT
from dl101.notebook import course_experiments, run_sweep, sweep_jobs
from dl101.runs import find_runs

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
ORDER = ("experiment_config(", "run_course_experiment(", "course_table(")


def code_cells(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_one_notebook_per_course_part_covering_every_course_experiment():
    assert [p.stem.split("_")[0] for p in NOTEBOOKS] == ["01", "02", "03", "04"]
    shown = {
        source.split('"')[1]
        for path in NOTEBOOKS
        for source in code_cells(path)
        if source.startswith("runs[")
    }
    assert shown == set(course_experiments(full=False)) == set(course_experiments(full=True))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_a_notebook_is_kept_without_outputs_and_holds_no_model_code(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
            assert "def " not in cell.source and "class " not in cell.source, cell.source[:60]
    cells = code_cells(path)
    assert "pip" in cells[0] and "cuda" in cells[0]  # a fresh Colab runtime: install, GPU
    assert "FULL = False" in cells[1]  # one cell switches to the full budget
    assert all(len(source.splitlines()) <= 20 for source in cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_experiment_reads_config_then_training_then_results(path):
    calls = [call for source in code_cells(path) for call in ORDER if call in source]
    assert calls and calls == list(ORDER) * (len(calls) // len(ORDER))
    assert "%tensorboard" in code_cells(path)[-1]


def test_the_notebook_sweep_runs_the_command_lines_jobs_with_its_numbers(
    regularization_sweep, tmp_path, monkeypatch
):
    """`sweep=regularization seed=1,2 trainer.max_steps=20` in-process, against the same sweep
    run by `python -m dl101.train` (jobs side by side, one thread each): the same job folders
    and the same final accuracies."""
    cli_dir, _ = regularization_sweep
    overrides = ["sweep=regularization", "seed=1,2", "trainer.max_steps=20"]
    jobs, keys = sweep_jobs(overrides)
    assert keys == ["regularization", "seed"] and len(jobs) == 8
    monkeypatch.setenv("DL101_LOG_DIR", str(tmp_path))
    here = {run.path.name: run for run in find_runs(run_sweep([*overrides, "threads=1"]))}
    there = {run.path.name: run for run in find_runs(cli_dir)}
    assert here.keys() == there.keys() and len(here) == 8
    for name, run in here.items():
        for tag in ("train_eval/acc", "val/acc", "val/loss"):
            assert run.final(tag) == pytest.approx(there[name].final(tag), abs=1e-6), (name, tag)
