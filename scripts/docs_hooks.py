"""MkDocs hooks for `make docs`: the README as the site's home page (one front door, links
rewritten for the site), an API reference page per wing of the package generated from its
modules (a new module appears without editing a list), and MathJax copied into the site from
the installed jupyter-server-mathjax package so that maths renders with no network."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import jupyter_server_mathjax
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "dl101"
WINGS = {  # reference page -> (title, the package folder it documents)
    "models": ("Models", "models"),
    "data": ("Data", "data"),
    "run": ("Runs", "run"),
    "results": ("Results", "results"),
    "callbacks": ("Callbacks", "callbacks"),
    "stacked": ("Stacked sweeps", "stacked"),
    "course": ("Course", "course"),
    "top": ("Commands and notebook helpers", ""),
}


def home_page() -> str:
    """README.md with its links made site-relative: docs/x -> x; a link to a file outside docs/
    (a notebook, a config) becomes its label and path as code, which the site cannot serve."""
    text = (ROOT / "README.md").read_text()
    text = re.sub(r"\]\(docs/", "](", text)
    outside = r"\[([^\]]+)\]\(((?:notebooks|conf|src|scripts|tests)/[^)]+)\)"
    return re.sub(outside, r"\1 (`\2`)", text)


def modules(folder: str) -> list[str]:
    """The dotted names of the package's modules in one wing, in file order."""
    base = PACKAGE / folder
    files = sorted(base.glob("*.py")) if folder else sorted(PACKAGE.glob("*.py"))
    names = []
    for path in files:
        if path.name == "__main__.py":
            continue
        parts = ["dl101", *filter(None, [folder]), path.stem]
        names.append(".".join(parts[:-1]) if path.stem == "__init__" else ".".join(parts))
    return names


def reference_page(title: str, folder: str) -> str:
    blocks = [f"# {title}\n"]
    for name in modules(folder):
        # a package's __init__ re-exports its modules' names: its docstring alone, once
        members = "\n      members: false" if name.count(".") < 2 and folder else ""
        blocks.append(f"::: {name}\n    options:\n      heading_level: 2{members}\n")
    return "\n".join(blocks)


def reference_index() -> str:
    lines = ["# API reference\n", "Generated from the docstrings of `src/dl101/`, a page a wing:\n"]
    lines += [f"- [{title}]({page}.md)" for page, (title, _) in WINGS.items()]
    return "\n".join(lines) + "\n"


def on_files(files, config):
    generated = {"index.md": home_page(), "reference/index.md": reference_index()}
    generated |= {f"reference/{page}.md": reference_page(*spec) for page, spec in WINGS.items()}
    for src_uri, content in generated.items():
        files.append(File.generated(config, src_uri, content=content))
    return files


def on_post_build(config):
    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(source, Path(config["site_dir"]) / "assets" / "mathjax", dirs_exist_ok=True)
