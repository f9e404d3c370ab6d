"""Checkpoints by name: `ckpt_path=last` or `best` -> a file of the newest run of an experiment,
and the run folder a resumed training continues in. No torch here: Hydra resolves the run
folder (the `dl101_run_dir` resolver) while it composes the config."""

from __future__ import annotations

from pathlib import Path

from dl101.errors import InputError

LAST = "last.ckpt"


class CheckpointError(InputError):
    """`ckpt_path` names no usable checkpoint."""


def newest_last(log_dir: str, task_name: str, experiment_name: str) -> Path:
    """The newest `last.ckpt` among the runs and sweep jobs of `experiment_name`."""
    roots = [Path(log_dir) / task_name / kind / experiment_name for kind in ("runs", "multiruns")]
    candidates = [path for root in roots for path in root.glob(f"**/checkpoints/{LAST}")]
    if not candidates:
        raise CheckpointError(
            f"ckpt_path=last: no {LAST} under {roots[0]} or {roots[1]}. Train "
            f"experiment_name={experiment_name} first, name another experiment "
            "(experiment_name=...), or give the checkpoint's path"
        )
    return max(candidates, key=lambda path: path.stat().st_mtime)


def best_of_run(checkpoints_dir: Path) -> Path:
    """The run's best checkpoint by its ModelCheckpoint's monitor (val/acc by default)."""
    kept = sorted(path for path in checkpoints_dir.glob("*.ckpt") if path.name != LAST)
    if len(kept) == 1:
        return kept[0]
    if not kept:
        raise CheckpointError(
            f"ckpt_path=best: {checkpoints_dir} holds no best checkpoint (a run without "
            "validation, or with callbacks.model_checkpoint off); use ckpt_path=last"
        )
    import torch  # several kept (save_top_k > 1): the run's own record says which is best

    callbacks = torch.load(checkpoints_dir / LAST, map_location="cpu", weights_only=True)
    for state in callbacks.get("callbacks", {}).values():
        best = Path(state.get("best_model_path") or "")
        if best.name and best.name != LAST and (checkpoints_dir / best.name).is_file():
            return checkpoints_dir / best.name
    raise CheckpointError(f"ckpt_path=best: {checkpoints_dir / LAST} records no best checkpoint")


def named_checkpoint(
    ckpt_path: str | None, log_dir: str, task_name: str, experiment_name: str
) -> str | None:
    """`last` -> the newest run's `last.ckpt`, `best` -> its best checkpoint, else the path."""
    if ckpt_path in (None, ""):
        return None
    if str(ckpt_path) == "last":
        return str(newest_last(log_dir, task_name, experiment_name))
    if str(ckpt_path) == "best":
        return str(best_of_run(newest_last(log_dir, task_name, experiment_name).parent))
    return str(ckpt_path)


def run_dir(
    new_dir: str, ckpt_path: str | None, log_dir: str, task_name: str, experiment_name: str
) -> str:
    """The folder of a single training run: the folder of the run it resumes, if the checkpoint
    lies in one (`<log_dir>/<task>/runs/.../checkpoints/`), so its TensorBoard curves and best
    checkpoint carry on; else `new_dir`. A sweep job's checkpoint resumes into a new run: its
    sweep's folder keeps describing the sweep."""
    try:
        path = named_checkpoint(ckpt_path, log_dir, task_name, experiment_name)
    except CheckpointError:
        return new_dir  # train() refuses it, saying why, before anything is written
    if path is None:
        return new_dir
    folder = Path(path).resolve().parent.parent
    runs = (Path(log_dir) / task_name / "runs").resolve()
    in_a_run = Path(path).parent.name == "checkpoints" and (folder / ".hydra").is_dir()
    return str(folder) if in_a_run and folder.is_relative_to(runs) else new_dir
