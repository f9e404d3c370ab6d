"""The course notebooks: one heading per course section in the course's order, each section
teaching in the same steps (the maths, the package's own code from its source, a live check,
then the experiment); kept without outputs and without model or training code of their own;
covering every experiment of `make course`. Their live checks pass here, without a kernel."""

from __future__ import annotations

import re

import nbformat
import pytest

from dl101 import PROJECT_ROOT
from dl101.course.sections import SECTIONS
from dl101.notebook import course_experiments

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
ORDER = ("experiment_config(", "run_course_experiment(", "course_table(")
HEADING = re.compile(r"^## ([IV]+ [A-F])\. (.+)$", re.MULTILINE)
CHECK = "check"  # the tag of a live-check cell


def cells(path) -> list:
    return nbformat.read(path, as_version=4).cells


def code_cells(path) -> list[str]:
    return [c.source for c in cells(path) if c.cell_type == "code"]


def is_check(cell) -> bool:
    return CHECK in cell.metadata.get("tags", [])


def is_exercise_stub(cell) -> bool:
    """A student's function to write (tests/test_exercises.py): a `def`, by design."""
    tagged = "exercise" in cell.metadata.get("tags", [])
    return tagged and cell.source.rstrip().endswith("raise NotImplementedError  # your code here")


def sections(path) -> dict[str, list]:
    """The cells of each course section (from its heading to the next `##`), by label."""
    found, current = {}, None
    for cell in cells(path):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            match = HEADING.match(cell.source)
            current = match.group(1) if match else None
            if current:
                found[current] = []
        if current:
            found[current].append(cell)
    return found


def test_one_notebook_per_course_part_covering_every_course_experiment():
    assert [p.stem.split("_")[0] for p in NOTEBOOKS] == ["01", "02", "03", "04"]
    shown = {
        source.split('"')[1]
        for path in NOTEBOOKS
        for source in code_cells(path)
        if source.startswith("runs[")
    }
    assert shown == set(course_experiments(full=False)) == set(course_experiments(full=True))


def test_the_headings_are_the_courses_sections_in_its_order():
    """Every section of the course (I B .. V D) has its own heading, numbered and named as the
    course's table of contents does, in its order; no other section heading."""
    headings = [h for path in NOTEBOOKS for h in HEADING.findall(cells_text(path))]
    assert [label for label, _ in headings] == list(SECTIONS)
    for label, title in headings:
        assert title.lower().startswith(SECTIONS[label].lower()), (label, title)


def cells_text(path) -> str:
    return "\n".join(c.source for c in cells(path) if c.cell_type == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_section_has_its_maths_its_code_from_source_and_a_live_check(path):
    """A display equation, then the package's code shown from its source, then at least one
    tagged live check that asserts."""
    for label, section in sections(path).items():
        markdown = "\n".join(c.source for c in section if c.cell_type == "markdown")
        assert "$$" in markdown, f"{label}: no display equation"
        code = [c for c in section if c.cell_type == "code"]
        sources = [c.source for c in code]
        shown = [i for i, source in enumerate(sources) if source.startswith("show_source(")]
        checks = [i for i, cell in enumerate(code) if is_check(cell)]
        assert shown, f"{label}: the package's code is not shown"
        assert checks and shown[0] < checks[0], f"{label}: no live check after the code"
        for i in checks:
            assert re.search(r"\bassert", sources[i]), f"{label}: a live check that asserts nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_a_notebook_is_kept_without_outputs_and_holds_no_model_code(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        for copied in ("def ", "class ", "Trainer(", "LightningModule", ".fit("):
            if not (copied == "def " and is_exercise_stub(cell)):
                assert copied not in cell.source, (copied, cell.source[:60])
    for cell in code[2:]:  # after the setup and imports cells
        limit = 15 if is_check(cell) else 20  # a worked example stays short
        assert len(cell.source.splitlines()) <= limit, cell.source[:60]
    assert "pip" in code[0].source and "cuda" in code[0].source  # a fresh Colab runtime
    assert "FULL = False" in code[1].source  # one cell switches to the full budget


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_each_experiment_reads_config_then_training_then_results(path):
    calls = [call for source in code_cells(path) for call in ORDER if call in source]
    assert calls and calls == list(ORDER) * (len(calls) // len(ORDER))
    assert "%tensorboard" in code_cells(path)[-1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_the_live_checks_pass(path, mnist_dir):
    """Every tagged check cell, run in order after the imports cell (no kernel, no training):
    a change to the course's maths in the package fails here before `make notebooks` runs."""
    notebook = cells(path)
    namespace: dict = {}
    imports = [c for c in notebook if c.cell_type == "code"][1]
    exec(compile(imports.source, f"{path.name}: imports", "exec"), namespace)
    checks = [(i, c) for i, c in enumerate(notebook) if is_check(c)]
    assert len(checks) >= 4
    for i, cell in checks:
        exec(compile(cell.source, f"{path.name}: cell {i}", "exec"), namespace)
