"""`ckpt_path=last|best` on log folders laid out as runs write them (no training): which file
each name picks, what is refused and how, and the folder a resumed run continues in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dl101.run.ckpt_path import CheckpointError, best_of_run, named_checkpoint, newest_last, run_dir


def checkpoint(folder: Path, name: str, age_s: float = 0, content=None) -> Path:
    """A checkpoint file `age_s` seconds old, in a run folder (its .hydra/ beside)."""
    (folder.parent / ".hydra").mkdir(parents=True, exist_ok=True)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    torch.save(content or {}, path)
    when = 1_700_000_000 - age_s
    os.utime(path, (when, when))
    return path


def test_last_is_the_newest_last_ckpt_of_the_experiment_among_runs_and_sweep_jobs(tmp_path):
    logs = tmp_path / "logs"
    checkpoint(logs / "train/runs/mnist/old/checkpoints", "last.ckpt", age_s=300)
    newest = checkpoint(logs / "train/multiruns/mnist/sweep/lr=1/checkpoints", "last.ckpt", 10)
    checkpoint(logs / "train/runs/mnist/mid/checkpoints", "last.ckpt", age_s=100)
    checkpoint(logs / "train/runs/other/newer/checkpoints", "last.ckpt", age_s=0)  # not ours
    checkpoint(logs / "eval/runs/mnist/x/checkpoints", "last.ckpt", age_s=0)  # another task
    assert newest_last(str(logs), "train", "mnist") == newest
    assert named_checkpoint("last", str(logs), "train", "mnist") == str(newest)
    with pytest.raises(CheckpointError) as refused:
        newest_last(str(logs), "train", "nothing")
    assert str(refused.value) == (
        f"ckpt_path=last: no last.ckpt under {logs}/train/runs/nothing or "
        f"{logs}/train/multiruns/nothing. Train experiment_name=nothing first, name another "
        "experiment (experiment_name=...), or give the checkpoint's path"
    )


def test_best_is_the_one_kept_or_the_one_the_run_recorded(tmp_path):
    one = tmp_path / "one" / "checkpoints"
    kept = checkpoint(one, "epoch003-step000400.ckpt")
    checkpoint(one, "last.ckpt")
    assert best_of_run(one) == kept  # one kept besides last.ckpt: that one, no reading
    several = tmp_path / "several" / "checkpoints"
    for name in (
        "epoch000-step000100.ckpt",
        "epoch001-step000200.ckpt",
        "epoch002-step000300.ckpt",
    ):
        checkpoint(several, name)
    record = {"callbacks": {"EarlyStopping": {}, "ModelCheckpoint": {
        "best_model_path": "/moved/epoch001-step000200.ckpt"}}}  # fmt: skip
    checkpoint(several, "last.ckpt", content=record)
    assert best_of_run(several) == several / "epoch001-step000200.ckpt"  # by name, here


def test_best_refuses_a_run_with_none_kept_or_none_recorded(tmp_path):
    none = tmp_path / "none" / "checkpoints"
    checkpoint(none, "last.ckpt")
    with pytest.raises(CheckpointError, match=r"holds no best checkpoint .*use ckpt_path=last"):
        best_of_run(none)
    lost = tmp_path / "lost" / "checkpoints"
    checkpoint(lost, "epoch000-step000100.ckpt")
    checkpoint(lost, "epoch001-step000200.ckpt")
    gone = {"callbacks": {"ModelCheckpoint": {"best_model_path": "/x/epoch009-step000900.ckpt"}}}
    checkpoint(lost, "last.ckpt", content=gone)  # records a file no longer there
    with pytest.raises(CheckpointError, match=r"last.ckpt records no best checkpoint"):
        best_of_run(lost)
    itself = {"callbacks": {"ModelCheckpoint": {"best_model_path": str(lost / "last.ckpt")}}}
    checkpoint(lost, "last.ckpt", content=itself)  # last.ckpt is never the best one
    with pytest.raises(CheckpointError, match="records no best"):
        best_of_run(lost)
    checkpoint(lost, "last.ckpt", content={"state_dict": {}})  # saved without its callbacks
    with pytest.raises(CheckpointError, match="records no best"):
        best_of_run(lost)


def test_best_of_the_newest_run_and_a_path_as_given(tmp_path):
    logs = tmp_path / "logs"
    old = logs / "train/runs/default/old/checkpoints"
    checkpoint(old, "epoch000-step000001.ckpt", age_s=500)
    checkpoint(old, "last.ckpt", age_s=500)
    new = logs / "train/runs/default/new/checkpoints"
    best = checkpoint(new, "epoch004-step000050.ckpt", age_s=5)
    checkpoint(new, "last.ckpt", age_s=5)
    assert named_checkpoint("best", str(logs), "train", "default") == str(best)
    assert named_checkpoint("some/file.ckpt", str(logs), "train", "default") == "some/file.ckpt"
    assert named_checkpoint(None, str(logs), "train", "default") is None
    assert named_checkpoint("", str(logs), "train", "default") is None


def test_a_resumed_run_continues_in_its_own_folder_and_nothing_else_does(tmp_path):
    logs = tmp_path / "logs"
    run = logs / "train/runs/default/2026-01-01_10-00-00"
    last = checkpoint(run / "checkpoints", "last.ckpt")
    new = str(logs / "train/runs/default/new")
    resolve = lambda ckpt: run_dir(new, ckpt, str(logs), "train", "default")  # noqa: E731
    assert resolve(str(last)) == str(run.resolve())
    assert resolve("last") == str(run.resolve())
    assert resolve(None) == new
    job = checkpoint(logs / "train/multiruns/default/s/lr=1/checkpoints", "last.ckpt", age_s=-60)
    assert resolve(str(job)) == new  # a sweep job's folder keeps describing its sweep
    assert resolve("last") == new  # the newest is now that job's
    elsewhere = checkpoint(tmp_path / "downloads" / "checkpoints", "last.ckpt")
    assert resolve(str(elsewhere)) == new  # outside this log folder's runs
    loose = tmp_path / "logs/train/runs/default/loose.ckpt"
    torch.save({}, loose)
    assert resolve(str(loose)) == new  # not in a run's checkpoints/
    no_hydra = logs / "train/runs/default/bare/checkpoints"
    no_hydra.mkdir(parents=True)
    torch.save({}, no_hydra / "last.ckpt")
    assert resolve(str(no_hydra / "last.ckpt")) == new  # no .hydra/: not a run's folder
    assert run_dir(new, "best", str(tmp_path / "empty"), "train", "default") == new  # refused later
