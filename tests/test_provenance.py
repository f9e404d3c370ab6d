"""Every run says what produced it: its folder's provenance.yaml holds the git commit of dl101's
code and of one's own (a research folder that is a git checkout), whether each had uncommitted
changes and their diff, the versions, the device and the command line; TensorBoard shows it as
TEXT, MLflow receives it as tags, `dl101.report` prints it, and the command the run prints at
its end reproduces it (the same test accuracy)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning
import torch
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101 import PROJECT_ROOT
from dl101.results.provenance import provenance_lines

RUN = ["trainer.max_steps=3", "data.val_size=200", "callbacks.progress_bar.refresh_rate=0"]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip


def train_in(folder: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "300", "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("DL101_LOG_DIR", None)
    return subprocess.run([sys.executable, "-m", "dl101.train", *overrides], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip


@pytest.fixture(scope="module")
def research(mnist_dir, tmp_path_factory):
    """A research folder of one's own, a git checkout with an uncommitted change, and a run
    started from it: its folder and what it printed."""
    folder = tmp_path_factory.mktemp("research")
    git(folder, "init", "-q")
    (folder / "notes.txt").write_text("first\n")
    git(folder, "add", "notes.txt")
    git(folder, "-c", "user.name=r", "-c", "user.email=r@example.org", "commit", "-qm", "notes")
    (folder / "notes.txt").write_text("first\nsecond\n")  # not committed
    result = train_in(folder, *RUN, "seed=7")
    (run,) = (folder / "logs" / "train" / "runs" / "default").iterdir()
    return folder, run, result.stdout


def test_the_run_folder_records_code_versions_device_and_command(research):
    folder, run, _ = research
    saved = OmegaConf.to_container(OmegaConf.load(run / "provenance.yaml"))
    dl101 = saved["code"]["dl101"]
    assert dl101["path"] == str(PROJECT_ROOT)
    assert dl101["commit"] == git(PROJECT_ROOT, "rev-parse", "HEAD").strip()
    own = saved["code"]["working_dir"]
    assert own["commit"] == git(folder, "rev-parse", "HEAD").strip() and own["dirty"] is True
    assert Path(own["diff"]).read_text() == git(folder, "diff", "HEAD")  # "+second"
    assert "+second" in Path(own["diff"]).read_text()
    assert saved["versions"] == {
        "python": ".".join(map(str, sys.version_info[:3])),
        "torch": torch.__version__,
        "pytorch_lightning": pytorch_lightning.__version__,
        "hydra": __import__("hydra").__version__,
        "dl101": "0.1.0",
    }
    assert saved["device"]["cores"] == os.cpu_count() and saved["device"]["accelerator"] == "cpu"
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    assert saved["device"]["cpu"] == (cpu.group(1).strip() if cpu else saved["device"]["cpu"])
    assert saved["command"] == " ".join([sys.executable, "-m", "dl101.train", *RUN, "seed=7"])
    assert saved["working_dir"] == str(folder)
    assert saved["environment"]["PYTHONPATH"] == str(PROJECT_ROOT)


def test_tensorboard_shows_it_and_dl101_report_prints_it(research):
    folder, run, _ = research
    events = EventAccumulator(str(run))
    events.Reload()
    (text,) = [t for t in events.Tags()["tensors"] if t.startswith("provenance")]
    shown = events.Tensors(text)[0].tensor_proto.string_val[0].decode()
    assert git(folder, "rev-parse", "HEAD").strip()[:12] in shown and "command:" in shown
    printed = subprocess.run(
        [sys.executable, "-m", "dl101.report", str(run)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "300"},
    ).stdout
    saved = OmegaConf.to_container(OmegaConf.load(run / "provenance.yaml"))
    assert f"Provenance of {run} (1 of 1 runs recorded one):" in printed
    assert all(f"  {line}" in printed for line in provenance_lines(saved))


def test_the_command_printed_at_the_end_reproduces_the_run(research):
    folder, run, printed = research
    (line,) = [line for line in printed.splitlines() if line.startswith("Reproduce it: ")]
    command = line.removeprefix("Reproduce it: ")
    assert command == (
        f"cd {folder} && PYTHONPATH={PROJECT_ROOT} {sys.executable} -m dl101.train "
        + " ".join([*RUN, "seed=7"])
    )
    assert f"git -C {folder} apply {run / 'working_dir.diff'}" in printed  # its own changes
    again = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True,
                           env={**os.environ, "COLUMNS": "300"})  # fmt: skip
    first, second = sorted((folder / "logs" / "train" / "runs" / "default").iterdir())
    metrics = [
        OmegaConf.to_container(OmegaConf.load(r / "final_metrics.json")) for r in (first, second)
    ]
    # The same run again: equal metrics up to float summation order (thread counts may differ).
    assert "test/acc" in metrics[0], again.stdout[-2000:]
    assert metrics[1] == pytest.approx(metrics[0], rel=1e-5), again.stdout[-2000:]


def test_mlflow_receives_it_as_tags(tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from dl101.run.loggers import MLflowFileStoreLogger, send_provenance

    logger = MLflowFileStoreLogger(experiment_name="p", tracking_uri=f"file:{tmp_path}/mlruns")
    tags = {"dl101.command": "python -m dl101.train", "mlflow.source.git.commit": "abc123"}
    send_provenance([logger], ["command: python -m dl101.train"], tags)
    stored = MlflowClient(f"file:{tmp_path}/mlruns").get_run(logger.run_id).data.tags
    assert {key: stored[key] for key in tags} == tags
