"""The GPU check's offline path, proved on this CPU: `make gpu-bundle`'s bundle installs into a
Python that holds only what an offline GPU node holds (torch, Lightning, torchmetrics,
torchvision, tensorboard, rich, matplotlib, pytest; no Hydra, no dl101 installed), MNIST comes
from the bundle, a run trains, and the GPU steps say "no CUDA GPU"; a wheel missing from the
bundle is named."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from dl101 import PROJECT_ROOT

pytestmark = pytest.mark.slow
NODE = ("torch", "torchvision", "pytorch-lightning", "torchmetrics", "tensorboard", "rich",
        "matplotlib", "pytest", "pip", "pyyaml", "joblib")  # fmt: skip
NOT_ON_THE_NODE = {"hydra-core", "omegaconf", "antlr4-python3-runtime", "dl101"}


def closure(names) -> set[str]:
    """The distributions `names` need, recursively (their extras left out)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen or name in NOT_ON_THE_NODE:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # a platform's optional dependency this machine does not have
        seen.add(name)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def node_site(folder: Path) -> Path:
    """A site folder holding links to just the node's distributions (code and metadata)."""
    folder.mkdir()
    for name in closure(NODE):
        dist = importlib.metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = Path(dist.locate_file(top))
            if source.exists() and not (folder / top).exists() and top != "__pycache__":
                (folder / top).symlink_to(source)
    return folder


@pytest.fixture(scope="module")
def node(tmp_path_factory, mnist_dir):
    """A copy of the checkout with its bundle, and a `python3` that sees only the node's site."""
    root = tmp_path_factory.mktemp("node")
    tree = root / "dl101"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT,
                           capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, tree / name)
    built = subprocess.run([sys.executable, "scripts/gpu_bundle.py", "--out", str(tree / ".gpu")],
                           cwd=PROJECT_ROOT, capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    site = node_site(root / "site")
    python = root / "bin" / "python3"
    python.parent.mkdir()
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')  # no site-packages
    python.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHON": str(python),
           "PATH": f"{python.parent}:{os.environ['PATH']}"}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    env.pop("DL101_ROOT", None)
    return tree, env, python, built.stdout


def test_the_bundle_is_small_and_holds_what_the_node_lacks(node):
    tree, env, python, printed = node
    total = float(re.search(r"([\d.]+) MiB\s+in all", printed).group(1))
    assert total < 40, printed
    wheels = sorted(p.name.split("-")[0] for p in (tree / ".gpu" / "wheels").glob("*.whl"))
    assert wheels == ["antlr4_python3_runtime", "hydra_core", "omegaconf"]
    lacks = subprocess.run([str(python), "-c", "import hydra"], env=env, capture_output=True)
    assert lacks.returncode != 0  # the node's Python has no Hydra: the bundle brings it
    has = subprocess.run([str(python), "-c", "import torch, pytorch_lightning, torchvision"],
                         env=env, capture_output=True, text=True)  # fmt: skip
    assert has.returncode == 0, has.stderr[-2000:]


def test_the_offline_check_installs_the_bundle_trains_and_skips_the_gpu(node):
    tree, env, _, _ = node
    result = subprocess.run(["bash", "scripts/gpu_check.sh", "--offline"], cwd=tree, env=env,
                            capture_output=True, text=True, timeout=900)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "MNIST OK" in output and "no CUDA GPU" in output
    assert "| smoke | ok |" in output
    assert (tree / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()  # unpacked


def test_a_wheel_missing_from_the_bundle_is_named(node, tmp_path):
    tree, env, _, _ = node
    broken = tmp_path / "dl101"
    shutil.copytree(tree, broken, symlinks=True, ignore=shutil.ignore_patterns("logs", "data"))
    next((broken / ".gpu" / "wheels").glob("hydra_core-*.whl")).unlink()
    result = subprocess.run(["bash", "scripts/gpu_check.sh", "--offline"], cwd=broken, env=env,
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 1
    assert "hydra-core is missing from the bundle (make gpu-bundle)" in result.stdout
