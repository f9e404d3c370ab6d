"""A notebook's first cell on a fresh runtime (Colab, a new Jupyter) where dl101 is not
installed: it clones the repository (this checkout stands in for its URL), installs it with pip,
fetches MNIST and prints whether a GPU is there; afterwards `import dl101` works there. The
runtime is a new venv that sees the packages dl101 needs (as Colab ships torch) but not dl101."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv

import nbformat
import pytest

from dl101 import PROJECT_ROOT

pytestmark = pytest.mark.slow


def first_code_cell(name: str) -> str:
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    return next(c.source for c in notebook.cells if c.cell_type == "code")


def test_the_first_cell_installs_dl101_on_a_fresh_runtime(tmp_path):
    runtime = tmp_path / "runtime"
    venv.create(runtime, with_pip=True)
    python = runtime / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    # Our site-packages as a plain path: its packages import, its editable dl101 does not.
    (runtime / site / "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DL101_", "VIRTUAL_ENV"))}
    env |= {"DL101_REPO": str(PROJECT_ROOT), "PATH": f"{runtime / 'bin'}:{env['PATH']}"}
    before = subprocess.run([python, "-c", "import dl101"], cwd=work, env=env, capture_output=True)
    assert before.returncode != 0, "dl101 importable before the cell ran: not a fresh runtime"

    cell = subprocess.run(
        [python, "-c", first_code_cell("01_linear_networks")],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert cell.returncode == 0, cell.stderr[-3000:]
    assert "GPU: " in cell.stdout and "MNIST OK" in cell.stdout, cell.stdout[-2000:]

    after = subprocess.run(
        [python, "-c", "import dl101, torch; print(dl101.PROJECT_ROOT)"],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert after.returncode == 0, after.stderr[-2000:]
    assert after.stdout.strip() == str(work / "dl101")


def test_every_notebook_opens_with_the_same_install_cell():
    cells = {first_code_cell(p.stem) for p in (PROJECT_ROOT / "notebooks").glob("*.ipynb")}
    assert len(cells) == 1 and "DL101_REPO" in cells.pop()
