"""The command lines answer at once: `--help`, `--cfg`, `--info` and shell completion load no
torch or Lightning, and completion offers a group's options."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dl101 import PROJECT_ROOT

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric", "torchvision", "matplotlib")
ENV = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}


def loaded_modules(*command: str, env: dict | None = None) -> tuple[set[str], str]:
    """Every module `command` imported (from `-X importtime`), and what it printed."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        capture_output=True, text=True, env=env or ENV, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    return modules, result.stdout


@pytest.mark.parametrize(
    "module", ["dl101.train", "dl101.evaluate", "dl101.predict", "dl101.sample"]
)
@pytest.mark.parametrize("flag", [["--help"], ["--cfg", "job"], ["--info"]])
def test_hydra_flags_load_no_training_stack(module, flag):
    modules, printed = loaded_modules("-m", module, *flag)
    assert printed.strip()
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []


def test_help_lists_the_groups_and_cfg_composes_the_overrides():
    _, printed = loaded_modules("-m", "dl101.train", "--help")
    assert "experiment: " in printed and "course_logreg" in printed
    _, printed = loaded_modules("-m", "dl101.train", "--cfg", "job", "model=cnn", "seed=3")
    assert "_target_: dl101.models.CNN" in printed and "seed: 3" in printed


def test_shell_completion_offers_a_groups_options_without_torch():
    """What bash asks after `eval "$(dl101-train -sc install=bash)"`, `dl101-train model=<TAB>`."""
    script = str(Path(sys.executable).with_name("dl101-train"))
    line = "dl101-train model="
    env = {**ENV, "COMP_LINE": line, "COMP_POINT": str(len(line))}
    modules, printed = loaded_modules(script, "-sc", "query=bash", env=env)
    assert {"model=cnn", "model=mlp", "model=rnn"} <= set(printed.split())
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []
    line = "dl101-train experiment=course_r"
    env = {**ENV, "COMP_LINE": line, "COMP_POINT": str(len(line))}
    assert loaded_modules(script, "-sc", "query=bash", env=env)[1].split() == [
        "experiment=course_rnn"
    ]
