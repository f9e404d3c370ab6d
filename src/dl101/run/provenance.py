"""Every run records what produced it, in its folder (`provenance.yaml`, read back by
`dl101.results.provenance`): the git commit of the code and whether it had uncommitted changes
(saved as `provenance.diff`), the versions of Python, torch, Lightning, Hydra and dl101, the
device (CPU model and threads, the GPU and CUDA where one is used), the exact command line and
its working directory, and the one command that reproduces the run. TensorBoard shows it as
TEXT; MLflow and W&B receive it as tags."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import OmegaConf

from dl101 import PROJECT_ROOT
from dl101.results.provenance import DIFF, FILE, provenance_lines

# The command as the user typed it, and where: set by the process that launches the runs, read
# by every job (a joblib or submitit worker was not started by that command line).
COMMAND_VAR, CWD_VAR = "DL101_COMMAND", "DL101_COMMAND_DIR"
ENVIRONMENT = ("PYTHONPATH", "DL101_LOG_DIR", "CUDA_VISIBLE_DEVICES")  # what changes a run


class CommandLine(Callback):
    """Hydra's: the launching process's command line, kept for its jobs (conf/hydra)."""

    def on_run_start(self, config, **kwargs) -> None:
        keep_command_line()

    def on_multirun_start(self, config, **kwargs) -> None:
        keep_command_line()


def keep_command_line() -> None:
    os.environ[COMMAND_VAR] = shlex.join(sys.orig_argv)
    os.environ[CWD_VAR] = os.getcwd()


def git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):  # no git here
        return None
    return done.stdout if done.returncode == 0 else None


def code_state(folder: Path) -> tuple[dict, str] | None:
    """The git checkout holding `folder`: its path, commit, whether tracked files differ from
    it (and the diff), its untracked files; None outside a git checkout."""
    top = git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    top = Path(top.strip())
    commit = (git(top, "rev-parse", "HEAD") or "").strip() or None
    status = (git(top, "status", "--porcelain") or "").splitlines()
    diff = git(top, "diff", "HEAD") or ""
    untracked = [line[3:] for line in status if line.startswith("??")]
    state = {"path": str(top), "commit": commit, "dirty": bool(diff.strip())}
    if untracked:
        state["untracked"] = untracked[:50] + [f"... {len(untracked) - 50} more"] * (
            len(untracked) > 50
        )
    return state, diff


def versions() -> dict[str, str]:
    import hydra
    import pytorch_lightning
    import torch

    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "pytorch_lightning": pytorch_lightning.__version__,
        "hydra": hydra.__version__,
        "dl101": installed_version("dl101"),
    }


def installed_version(name: str) -> str:
    """A distribution's version, or "not installed" for code run from its source folder (the
    offline GPU bundle puts dl101 on PYTHONPATH without installing it)."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed (run from its source)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device(trainer) -> dict:
    import torch

    root = trainer.strategy.root_device
    found = {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
             "accelerator": root.type, "devices": trainer.num_devices}  # fmt: skip
    if root.type == "cuda":
        found |= {"gpu": torch.cuda.get_device_name(root), "cuda": torch.version.cuda}
    return found


def job_overrides() -> tuple[list[str], bool]:
    """The overrides of this run (a sweep job's own) and whether it is a job of a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return [], False
    config = HydraConfig.get()
    return list(config.overrides.task), config.mode == RunMode.MULTIRUN


def reproduce_command(module: str, command: str, working_dir: str) -> str | None:
    """The one command that runs this run (a sweep's job alone) again, from its folder."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None  # not started from a command line (a notebook, a test): none to repeat
    overrides, in_sweep = job_overrides()
    if in_sweep and not {"-m", "--multirun"} & set(shlex.split(command)):
        overrides.append("hydra.mode=RUN")  # the job alone: its preset makes a sweep
    env = [f"{key}={shlex.quote(os.environ[key])}" for key in ("PYTHONPATH",) if key in os.environ]
    line = shlex.join([sys.executable, "-m", module, *overrides])
    return f"cd {shlex.quote(working_dir)} && {' '.join([*env, line])}"


def command_and_folder() -> tuple[str, str]:
    """The command line as typed, and where it was typed."""
    return (os.environ.get(COMMAND_VAR) or shlex.join(sys.orig_argv),
            os.environ.get(CWD_VAR) or os.getcwd())  # fmt: skip


def checkouts() -> dict[str, tuple[dict, str]]:
    """The git checkouts of dl101 and of the working folder (one's research), each with its
    uncommitted diff; one entry where they are the same checkout, none outside git."""
    found: dict[str, tuple[dict, str]] = {}
    folders = {"dl101": PROJECT_ROOT, "working_dir": Path(command_and_folder()[1])}
    for name, folder in folders.items():
        state = code_state(folder)
        if state is not None and all(s["path"] != state[0]["path"] for s, _ in found.values()):
            found[name] = state
    return found


def collect(output_dir: Path, trainer, module: str,
            code_states: dict | None = None) -> tuple[dict, dict[str, str]]:  # fmt: skip
    """The run's provenance, and the diffs of code with uncommitted changes (file -> text).
    `code_states`: `checkouts()` where known already (the runs of one stacked group)."""
    command, working_dir = command_and_folder()
    code, diffs = {}, {}
    for name, (state, diff) in (checkouts() if code_states is None else code_states).items():
        state = dict(state)
        if state["dirty"]:
            state["diff"] = str(output_dir / (DIFF if name == "dl101" else f"{name}.diff"))
            diffs[state["diff"]] = diff
        code[name] = state
    provenance = {
        "command": command,
        "working_dir": working_dir,
        "environment": {key: os.environ[key] for key in ENVIRONMENT if key in os.environ},
        "reproduce": reproduce_command(module, command, working_dir),
        "code": code,
        "versions": versions(),
        "device": device(trainer),
        "host": socket.gethostname(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    return provenance, diffs


def record_provenance(
    output_dir: str | Path,
    trainer,
    loggers: list,
    module: str,
    extra: dict | None = None,
    code_states: dict | None = None,
) -> dict:
    """Write the run's provenance in its folder and give it to its loggers; return it. `extra`:
    what else it says (how a stacked group trained the run); `code_states`: `checkouts()`, read
    once for the runs of a stacked group."""
    from dl101.run.loggers import send_provenance

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    provenance, diffs = collect(output_dir, trainer, module, code_states)
    provenance.update(extra or {})
    for path, diff in diffs.items():
        Path(path).write_text(diff)
    OmegaConf.save(provenance, output_dir / FILE)
    send_provenance(loggers, provenance_lines(provenance), tags(provenance))
    return provenance


def tags(provenance: dict) -> dict[str, str]:
    """Flat tags for experiment trackers; MLflow's own names where it has them."""
    found = {"dl101.command": provenance["command"], "dl101.working_dir": provenance["working_dir"],
             "dl101.reproduce": provenance.get("reproduce") or "",
             "dl101.host": provenance["host"]}  # fmt: skip
    for name, code in provenance["code"].items():
        found[f"dl101.code.{name}.commit"] = code.get("commit") or ""
        found[f"dl101.code.{name}.dirty"] = str(code.get("dirty"))
    source = provenance["code"].get("working_dir") or provenance["code"].get("dl101")
    if source:  # MLflow's own tag: one's research where it is a checkout, else dl101's
        found["mlflow.source.git.commit"] = source.get("commit") or ""
    found |= {f"dl101.version.{k}": v for k, v in provenance["versions"].items()}
    found |= {f"dl101.device.{k}": str(v) for k, v in provenance["device"].items()}
    return found
