"""`ckpt_path=last|best` on log folders laid out as runs write them (no training): which file
each name picks (`best` after a sweep: its best job by its model's monitor), what is refused
and how, and the folder a resumed run continues in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from dl101.run.ckpt_path import (
    CheckpointError,
    best_of_run,
    choose_checkpoint,
    named_checkpoint,
    newest_last,
    run_dir,
)


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


def sweep_job(sweep: Path, name: str, values: list[float], age_s: float, mode="max") -> Path:
    """A finished sweep job: its best and last checkpoints, what its model monitors, and the
    monitored metric's values in its TensorBoard events."""
    from omegaconf import OmegaConf
    from torch.utils.tensorboard import SummaryWriter

    job = sweep / name
    best = checkpoint(job / "checkpoints", "epoch001-step000010.ckpt", age_s)
    checkpoint(job / "checkpoints", "last.ckpt", age_s)
    monitor = "val/acc" if mode == "max" else "val/ppl"
    OmegaConf.save({"monitor": monitor, "mode": mode}, job / "judged_by.yaml")
    writer = SummaryWriter(str(job))
    for step, value in enumerate(values):
        writer.add_scalar(monitor, value, step)
    writer.close()
    return best


@pytest.mark.parametrize("mode", ["max", "min"])
def test_best_after_a_sweep_is_its_best_job_by_the_models_monitor_not_its_newest(tmp_path, mode):
    logs = tmp_path / "logs"
    older = logs / "train/multiruns/shapes/2026-01-01_09-00-00"
    sweep_job(older, "width=64,seed=1", [0.1, 0.99] if mode == "max" else [9.0, 0.5], 900, mode)
    sweep = logs / "train/multiruns/shapes/2026-01-01_10-00-00"
    low, high = ([0.5, 0.7], [0.6, 0.9]) if mode == "max" else ([3.0, 2.0], [2.5, 1.5])
    sweep_job(sweep, "width=8,seed=1", high, age_s=60, mode=mode)
    sweep_job(sweep, "width=16,seed=2", low, age_s=5, mode=mode)  # the newest job
    # width=4's best value (logged first, its final one is the worst) beats width=8's: the best
    # value counts, not the final one; the older sweep's better value is not this sweep's
    sweep_job(sweep, "width=4,seed=1", [0.95, 0.2] if mode == "max" else [1.0, 5.0], 30, mode)
    chosen = choose_checkpoint("best", str(logs), "train", "shapes")
    assert chosen.path == str(sweep / "width=4,seed=1" / "checkpoints" / "epoch001-step000010.ckpt")
    assert named_checkpoint("best", str(logs), "train", "shapes") == chosen.path
    monitor, value = ("val/acc", 0.95) if mode == "max" else ("val/ppl", 1.0)
    assert chosen.note == (
        f"ckpt_path=best: job width=4,seed=1 of the sweep {sweep}, best {monitor} {value:.4f} "
        f"of 3 jobs: {chosen.path}"
    )
    last = named_checkpoint("last", str(logs), "train", "shapes")
    assert last == str(sweep / "width=16,seed=2" / "checkpoints" / "last.ckpt")  # the newest


def test_best_after_a_sweep_whose_jobs_logged_no_monitor_is_refused(tmp_path):
    sweep = tmp_path / "logs/train/multiruns/default/t"
    checkpoint(sweep / "job" / "checkpoints", "last.ckpt")
    with pytest.raises(CheckpointError, match="no job of the sweep .* logged the metric"):
        named_checkpoint("best", str(tmp_path / "logs"), "train", "default")
