"""The package's wings and the direction of their dependencies: command-line modules use
library modules, never the reverse; each wing imports only the wings below it; reading results
needs no training stack."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from dl101 import CONFIG_DIR

SRC = Path(__file__).resolve().parents[1] / "src"
# Modules a user runs (`python -m ...`, a console script): thin, and imported by nothing.
COMMAND_LINE = {
    "dl101.train", "dl101.evaluate", "dl101.predict", "dl101.sample", "dl101.report",
    "dl101.course.__main__", "dl101.data.__main__",
}  # fmt: skip
# What each wing may import besides itself. Base modules (errors, files, internals) are below
# everything; the package's __init__ registers Hydra resolvers that load run/ and results/.
BASE = {"dl101.errors", "dl101.files", "dl101.internals"}
ALLOWED = {
    "base": {"base"},
    "results": {"base"},
    "models": {"base"},
    "data": {"base"},
    "run": {"base", "results", "models", "data"},
    "callbacks": {"base", "results", "models", "data", "run"},
    "stacked": {"base", "results", "models", "data", "run", "callbacks"},
    "course": {"base", "results", "models", "data", "run", "callbacks"},
    "notebook": {"base", "results", "models", "data", "run", "callbacks", "course"},
    "package": {"base", "results", "run"},
}


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module `path` imports, at the top or inside a function; `from a import b` counts
    as `a.b` where that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, `level - 1` packages up
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found & known


def command_line_imports(root: Path) -> list[str]:
    """`importer -> command-line module` for each import of a command-line module by another
    module (a module's own `from dl101 import bench` in its main guard is not one)."""
    files = {module_name(path, root): path for path in root.glob("dl101/**/*.py")}
    problems = []
    for name, path in sorted(files.items()):
        for target in sorted(imported_modules(path, name, set(files)) & COMMAND_LINE):
            if target != name:
                problems.append(f"{name} -> {target}")
    return problems


def test_no_module_imports_a_command_line_module():
    assert command_line_imports(SRC) == []


def wing(module: str) -> str:
    """A module's wing: `dl101.run.training` -> run; base modules; the package itself."""
    if module in BASE:
        return "base"
    if module == "dl101":
        return "package"
    return module.split(".")[1]


def wrong_way_imports(root: Path) -> list[str]:
    """`importer -> imported` for each import of a wing that the importer's may not use."""
    files = {module_name(path, root): path for path in root.glob("dl101/**/*.py")}
    problems = []
    for name, path in sorted(files.items()):
        if name in COMMAND_LINE or wing(name) not in ALLOWED:
            continue  # command lines use any wing; a top module without a wing is a command
        allowed = ALLOWED[wing(name)] | {wing(name)}
        for target in sorted(imported_modules(path, name, set(files))):
            if target != "dl101" and wing(target) not in allowed:
                problems.append(f"{name} -> {target}")
    return problems


def test_each_wing_imports_only_the_wings_below_it():
    assert wrong_way_imports(SRC) == []


def fake_package(root: Path, files: dict[str, str]) -> None:
    """`root/dl101/<path>` for each file, with an empty `__init__.py` in every folder."""
    for name, text in files.items():
        path = root / "dl101" / name
        for folder in [path.parent, *path.parent.parents][: len(Path(name).parts)]:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").touch()
        path.write_text(text)


def test_the_wing_check_finds_an_import_the_wrong_way(tmp_path):
    fake_package(tmp_path, {
        "errors.py": "",
        "run/training.py": "from dl101.results import runs\n",
        "results/runs.py": "def f():\n    from dl101.run import training\n",
        "models/mlp.py": "from dl101.errors import InputError\n",
    })  # fmt: skip
    assert wrong_way_imports(tmp_path) == [
        "dl101.results.runs -> dl101.run",
        "dl101.results.runs -> dl101.run.training",
    ]


def test_the_import_check_finds_a_planted_import(tmp_path):
    """The check itself: a library module that imports a command-line one, directly, from a
    package, relatively or inside a function, is named."""
    fake_package(tmp_path, {
        "train.py": "", "report.py": "", "course/__main__.py": "",
        "results/tables.py": "def f():\n    from dl101.report import main\n",
        "run/inference.py": "from dl101 import train\n",
        "course/runner.py": "from . import __main__\n",
        "course/figures.py": "import dl101.train as t\n",
    })  # fmt: skip
    assert command_line_imports(tmp_path) == [
        "dl101.course.figures -> dl101.train",
        "dl101.course.runner -> dl101.course.__main__",
        "dl101.results.tables -> dl101.report",
        "dl101.run.inference -> dl101.train",
    ]


def test_no_config_target_names_a_command_line_module():
    """A `_target_` in conf/ would make a run import a command-line module at instantiation."""
    targets = []

    def walk(node) -> None:
        if isinstance(node, dict):
            targets.extend([node["_target_"]] if "_target_" in node else [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in Path(CONFIG_DIR).glob("**/*.yaml"):
        walk(OmegaConf.to_container(OmegaConf.load(path)))
    assert targets, "no _target_ found: the walk is broken"
    bad = [t for t in targets if t.rpartition(".")[0] in COMMAND_LINE]
    assert bad == []


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        (
            "dl101.report",
            ("matplotlib", "torchvision", "pytorch_lightning", "dl101.callbacks", "scipy"),
        ),  # scipy: only when a verdict is computed
        ("dl101.results.runs", ("torch", "matplotlib", "pytorch_lightning")),
        ("dl101.results.sweep_summary", ("torch", "matplotlib", "pytorch_lightning")),
        ("dl101.train", ("torch", "pytorch_lightning", "torchvision")),
    ],
)
def test_light_modules_load_no_training_stack(module, absent):
    """What `python -X importtime -c "import M"` lists: none of the heavy packages."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert module in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in absent or m.startswith(absent))
    assert heavy == []
