"""The course as committed for reading: docs/course/<notebook>.md is the export of that notebook
as it is now (every cell's source in it, in order) after it ran (outputs and figures present),
with no path of the machine that ran it; the site's navigation names pages that exist."""

from __future__ import annotations

import re

import nbformat
import pytest
import yaml

from dl101 import PROJECT_ROOT

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
COURSE = PROJECT_ROOT / "docs" / "course"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_committed_page_is_the_notebook_as_it_is_now_executed(path):
    page = COURSE / f"{path.stem}.md"
    assert page.is_file(), f"{page.name} missing: make docs"
    text = page.read_text()
    position = 0
    for cell in nbformat.read(path, as_version=4).cells:
        found = text.find(cell.source.strip(), position)
        assert found >= 0, f"{page.name} is older than {path.name} (make docs): {cell.source[:80]}"
        position = found + len(cell.source.strip())
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert images, f"{page.name}: no figure, so no outputs: make docs runs the notebook first"
    assert all((COURSE / image).is_file() for image in images)
    assert str(PROJECT_ROOT) not in text and "/tmp/" not in text


def test_every_page_the_sites_navigation_names_exists_or_is_generated():
    class Loader(yaml.SafeLoader):  # mkdocs.yml's !!python tags are not used; plain YAML
        pass

    config = yaml.load((PROJECT_ROOT / "mkdocs.yml").read_text(), Loader=Loader)

    def names(node):
        if isinstance(node, str):
            yield node
        elif isinstance(node, list):
            for item in node:
                yield from names(item)
        elif isinstance(node, dict):
            for value in node.values():
                yield from names(value)

    generated = {"index.md"} | {p for p in names(config["nav"]) if p.startswith("reference/")}
    missing = [p for p in names(config["nav"]) if p not in generated
               and not (PROJECT_ROOT / "docs" / p).is_file()]  # fmt: skip
    assert not missing, missing
    guides = {f"guide/{p.name}" for p in (PROJECT_ROOT / "docs" / "guide").glob("*.md")}
    assert guides <= set(names(config["nav"]))


def test_the_exercises_page_lists_every_check_in_its_section():
    from dl101.check import EXERCISES

    rows = [line.split("|") for line in (PROJECT_ROOT / "docs" / "exercises.md").read_text()
            .splitlines() if line.startswith("| ") and "`" in line]  # fmt: skip
    listed = {
        (cells[1].strip(), name) for cells in rows for name in re.findall(r"`(\w+)`", cells[2])
    }
    expected = {
        (section, check.__name__) for section, checks in EXERCISES.items() for check in checks
    }
    assert expected <= listed, sorted(expected - listed)
