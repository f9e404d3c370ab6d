"""Killed runs resume, results reproduce, faults are refused clearly and lose nothing."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from hydra.errors import InstantiationException
from pytorch_lightning import Callback
from torchvision.datasets.utils import calculate_md5 as md5

from dl101 import PROJECT_ROOT
from dl101.callbacks import NonFiniteLossError
from dl101.data.sources import MNIST_MD5, bad_files, raw_dir
from dl101.run.checkpoints import AtomicCheckpointIO, load_checkpoint
from dl101.run.ckpt_path import CheckpointError, named_checkpoint
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, kill_at_step, run_module, scalars

ENV = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}
# 250 steps an epoch: the kill comes at KILL_STEP, in the middle of the second one. Dropout and
# augmentation draw random numbers every step: only a restored RNG state resumes them exactly.
RESUMABLE = [
    "model=mlp", "model.dropout=0.2", "+regularization=augmentation", "seed=7",
    "trainer.deterministic=true", "trainer.max_epochs=3", "data.batch_size=16",
    "data.train_subset=4000",
]  # fmt: skip
KILL_STEP = 375
COMPARED = ("val/acc", "val/loss", "test/acc", "test/loss")


def train_command(*overrides: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dl101.train",
        *overrides,
        "callbacks.progress_bar.refresh_rate=0",
    ]


def test_killed_run_resumes_in_its_folder_to_the_metrics_of_an_uninterrupted_one(
    mnist_dir, tmp_path
):
    """`ckpt_path=last` as typed: the resumed run writes into the killed run's folder, its
    TensorBoard curve carries on from the checkpoint (the killed run's later points hidden),
    and it ends with the metrics of a run never stopped."""
    uninterrupted = train(compose_config(tmp_path / "a", [*RESUMABLE, *QUIET]))

    logs = tmp_path / "logs"
    killed = logs / "train" / "runs" / "default" / "killed"
    last = kill_at_step([*RESUMABLE, f"paths.log_dir={logs}"], killed, step=KILL_STEP)
    assert load_checkpoint(str(last))["epoch"] == 0  # only the first epoch was saved

    run_module("dl101.train", *RESUMABLE, f"paths.log_dir={logs}", "ckpt_path=last", *QUIET)
    assert [run.name for run in killed.parent.iterdir() if run.is_dir()] == ["killed"]
    events = scalars(killed)
    for name in COMPARED:
        assert events[name][-1][1] == pytest.approx(uninterrupted[name], abs=1e-6), name
    steps = [step for step, _ in events["train/loss"]]
    assert steps == sorted(set(steps)) and steps[-1] == 749  # one curve, 3 epochs of 250
    assert len(list((killed / "checkpoints").glob("epoch*.ckpt"))) == 1  # one best, still


def test_ckpt_path_last_picks_the_newest_run_of_the_experiment(mnist_dir, tmp_path):
    """Three runs under logs/: `last` resumes the newer one of the default experiment (1 epoch
    of 5 steps), not the older one (2 epochs of 3 steps) nor another experiment's newest run,
    as the step count of the resumed run tells."""
    runs = tmp_path / "logs" / "debug" / "runs"
    older = ["debug=limit", "trainer.max_epochs=2", "trainer.limit_train_batches=3", *QUIET]
    train(compose_config(runs / "default" / "older", older))
    train(
        compose_config(runs / "default" / "newer", ["debug=limit", "trainer.max_epochs=1", *QUIET])
    )
    other = ["debug=limit", "experiment_name=other", "trainer.limit_train_batches=2", *QUIET]
    train(compose_config(runs / "other" / "newest", other))
    past = time.time() - 100  # however fast the machine, the older run's file is the older
    os.utime(runs / "default" / "older" / "checkpoints" / "last.ckpt", (past, past))
    cfg = compose_config(
        tmp_path / "resumed", ["debug=limit", "ckpt_path=last", "trainer.max_epochs=3", *QUIET]
    )
    cfg.paths.log_dir = str(tmp_path / "logs")
    train(cfg)
    resumed = load_checkpoint(str(tmp_path / "resumed" / "checkpoints" / "last.ckpt"))
    assert resumed["global_step"] == 15  # newer: 5 restored + 2 epochs of 5 (older: 6 + 5)


def test_interrupted_checkpoint_save_keeps_the_previous_file(tmp_path, kill_fsync):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": 1}, target)
    kill_fsync()
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": 2, "big": torch.zeros(100_000)}, target)
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_same_seed_same_metrics_other_seed_different(mnist_dir, tmp_path):
    def run(name: str, seed: int) -> dict:
        overrides = ["debug=limit", f"seed={seed}", "trainer.deterministic=true", *QUIET]
        return train(compose_config(tmp_path / name, overrides))

    first, again, other = run("a", 1), run("b", 1), run("c", 2)
    assert all(first[k] == again[k] for k in COMPARED)
    assert first["val/loss"] != other["val/loss"]


class RecordLosses(Callback):
    """Every training loss with the step Lightning reports after it (as the guard sees it)."""

    losses: list[tuple[int, float]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        RecordLosses.losses.append((trainer.global_step, outputs["loss"].item()))


def test_diverging_run_stops_at_the_first_non_finite_loss(mnist_dir, tmp_path):
    RecordLosses.losses = []
    overrides = ["model=mlp", "model.optimizer.lr=1e8", "trainer.max_epochs=1", *QUIET,
                 "+callbacks.record._target_=tests.test_reliability.RecordLosses"]  # fmt: skip
    with pytest.raises(NonFiniteLossError) as raised:
        train(compose_config(tmp_path, overrides))
    first_bad = next(step for step, loss in RecordLosses.losses if not math.isfinite(loss))
    assert f"became nan at step {first_bad} " in str(raised.value)
    assert "learning rate" in str(raised.value) and "gradient_clip_val" in str(raised.value)
    assert not list(tmp_path.glob("checkpoints/*.ckpt"))  # no NaN weights kept as last or best


def test_a_nan_is_caught_before_validation_saves_a_checkpoint(mnist_dir, tmp_path):
    """With the periodic check out of reach and a validation in the middle of the epoch (where
    checkpoints are then saved), only the check before validation stands between a NaN loss
    and a checkpoint of NaN weights."""
    overrides = ["model=mlp", "model.optimizer.lr=1e8", "trainer.max_epochs=1",
                 "trainer.limit_train_batches=40", "trainer.val_check_interval=10",
                 "callbacks.finite_loss.check_every_n_steps=1000", *QUIET]  # fmt: skip
    with pytest.raises(NonFiniteLossError, match="became nan"):
        train(compose_config(tmp_path, overrides))
    assert not list(tmp_path.glob("checkpoints/*.ckpt"))


@pytest.mark.parametrize(
    ("override", "error", "message"),
    [
        ("data.batch_size=0", ValueError, "data.batch_size=0"),
        ("data.val_size=60000", ValueError, "data.val_size=60000"),
        ("model.optimizer.lr=-0.1", ValueError, "model.optimizer.lr=-0.1"),
        ("ckpt_path=missing.ckpt", CheckpointError, "ckpt_path=missing.ckpt: no such file"),
        ("ckpt_path=last", CheckpointError, "ckpt_path=last: no last.ckpt"),
        ("ckpt_path=best", CheckpointError, "ckpt_path=last: no last.ckpt"),
    ],
)
def test_bad_configuration_is_refused_before_training(tmp_path, override, error, message):
    # Hydra wraps a constructor's error, keeping its message: "Error in call to target ...".
    with pytest.raises((error, InstantiationException), match=message.replace(".", r"\.")):
        train(compose_config(tmp_path, [override, *QUIET]))
    assert not (tmp_path / "checkpoints").exists() and not list(
        tmp_path.glob("events.out.tfevents.*")
    )


@pytest.mark.parametrize(
    "module", ["dl101.train", "dl101.evaluate", "dl101.predict", "dl101.sample"]
)
def test_a_file_that_is_not_a_checkpoint_is_refused_in_one_line(tmp_path, module):
    """`ckpt_path=/etc/hostname`: the path, what it is not and why, in one line; exit status 1;
    no traceback, and not torch's advice to load it with weights_only=False."""
    hostname = tmp_path / "hostname"
    hostname.write_text("myhost\n")
    extra = ["input=[1]"] if module == "dl101.predict" else []
    result = run_module(module, f"ckpt_path={hostname}", *extra, check=False)
    output = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(output) == 1, output
    assert output[0] == (
        f"Error: ckpt_path={hostname}: not a dl101/Lightning checkpoint "
        "(not the zip archive that torch.save writes)"
    )


def test_a_torch_file_that_is_no_lightning_checkpoint_is_named_so(tmp_path):
    plain = tmp_path / "plain.ckpt"
    torch.save({"weights": torch.zeros(2)}, plain)
    with pytest.raises(CheckpointError, match="a torch file without a state_dict"):
        load_checkpoint(str(plain))
    torch.save({"state_dict": {}, "epoch": 0}, plain)
    with pytest.raises(CheckpointError, match="without dl101's run config"):
        load_checkpoint(str(plain))


@pytest.mark.slow  # launcher/subprocess plumbing: a dozen seconds
def test_make_data_repairs_a_corrupted_file(mnist_dir, tmp_path):
    shutil.copytree(raw_dir(mnist_dir), raw_dir(tmp_path))
    target = raw_dir(tmp_path) / "train-labels-idx1-ubyte"
    payload = bytearray(target.read_bytes())
    payload[123] ^= 0x01
    target.write_bytes(bytes(payload))
    check = subprocess.run(
        [sys.executable, "-m", "dl101.data", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert check.returncode != 0 and "make data" in check.stderr and str(target) in check.stderr
    repair = subprocess.run(
        [sys.executable, "-m", "dl101.data", "--repair", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert repair.returncode == 0, repair.stderr
    assert bad_files(tmp_path) == {} and md5(target) == MNIST_MD5[target.name]


@pytest.mark.slow  # launcher/subprocess plumbing: a dozen seconds
def test_two_runs_started_together_get_their_own_folders(mnist_dir, tmp_path):
    command = train_command("debug=fast_dev_run", f"paths.log_dir={tmp_path}")
    processes = [
        subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()[-2000:]
    runs = list((tmp_path / "debug" / "runs" / "default").iterdir())  # <experiment_name>/<time>
    assert len(runs) == 2 and all((run / ".hydra" / "config.yaml").is_file() for run in runs)


def test_seed_sweep_is_grouped_in_the_report(mnist_dir, tmp_path):
    run_module("dl101.train", "-m", "debug=limit", "seed=1,2,3", f"hydra.sweep.dir={tmp_path}")
    run_module("dl101.report", str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "| debug=limit | 3 |" in table and "±" in table  # one row: the seeds are grouped


def test_ckpt_path_best_reads_which_of_several_kept_checkpoints_is_best(tmp_path):
    """save_top_k > 1 keeps several: `best` is the one the run's ModelCheckpoint recorded, not
    the newest or the first by name."""
    checkpoints = tmp_path / "logs" / "train" / "runs" / "default" / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    for name in (
        "epoch000-step000010.ckpt",
        "epoch001-step000020.ckpt",
        "epoch002-step000030.ckpt",
    ):
        torch.save({}, checkpoints / name)
    state = {"best_model_path": "/elsewhere/epoch001-step000020.ckpt"}  # a moved run
    torch.save(
        {"callbacks": {"ModelCheckpoint{'monitor': 'val/acc'}": state}}, checkpoints / "last.ckpt"
    )
    found = named_checkpoint("best", str(tmp_path / "logs"), "train", "default")
    assert found == str(checkpoints / "epoch001-step000020.ckpt")
