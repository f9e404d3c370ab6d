"""Checkpoints by name: `ckpt_path=last` -> the newest `last.ckpt` of an experiment; `best` ->
the best checkpoint of its newest run, or, where that is a sweep, of the sweep's best job by the
metric its model monitors; and the run folder a resumed training continues in. No torch here:
Hydra resolves the run folder (the `dl101_run_dir` resolver) while it composes the config."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

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


class Chosen(NamedTuple):
    """The checkpoint a name stands for, and what to tell the user about the choice."""

    path: str | None
    note: str | None = None


def best_job(sweep: Path) -> tuple[Path, str]:
    """The job of a sweep whose best value of its model's monitor (`judged_by.yaml`: the metric
    its best checkpoint is chosen by, and its direction) is the best; and a line saying so."""
    from omegaconf import OmegaConf

    from dl101.results.runs import JUDGED_BY, read_events

    jobs = sorted({path.parent.parent for path in sweep.glob(f"**/checkpoints/{LAST}")})
    scored = []
    for job in jobs:
        judged = OmegaConf.load(job / JUDGED_BY) if (job / JUDGED_BY).is_file() else {}
        monitor, mode = judged.get("monitor"), judged.get("mode")
        values = [value for _, value in read_events(job)[0].get(monitor, [])] if monitor else []
        if values:
            best = max(values) if mode == "max" else min(values)
            scored.append((-best if mode == "max" else best, job, monitor, best))
    if not scored:
        raise CheckpointError(
            f"ckpt_path=best: no job of the sweep {sweep} logged the metric its model monitors "
            "(judged_by.yaml); give the checkpoint's path, or ckpt_path=last"
        )
    _, job, monitor, value = min(scored, key=lambda item: item[0])  # the first of equals
    return (
        job,
        f"job {job.name} of the sweep {sweep}, best {monitor} {value:.4f} of {len(scored)} jobs",
    )


def choose_checkpoint(
    ckpt_path: str | None, log_dir: str, task_name: str, experiment_name: str
) -> Chosen:
    """`last` -> the newest run's `last.ckpt`; `best` -> the best checkpoint of the newest run,
    or of the best job of the newest sweep; else the path as given."""
    if ckpt_path in (None, ""):
        return Chosen(None)
    if str(ckpt_path) == "last":
        return Chosen(str(newest_last(log_dir, task_name, experiment_name)))
    if str(ckpt_path) != "best":
        return Chosen(str(ckpt_path))
    newest = newest_last(log_dir, task_name, experiment_name)
    sweeps = Path(log_dir) / task_name / "multiruns" / experiment_name
    if not newest.is_relative_to(sweeps):
        best = best_of_run(newest.parent)
        return Chosen(str(best), f"ckpt_path=best: {best} (the newest run of {experiment_name})")
    job, said = best_job(sweeps / newest.relative_to(sweeps).parts[0])
    best = best_of_run(job / "checkpoints")
    return Chosen(str(best), f"ckpt_path=best: {said}: {best}")


def named_checkpoint(
    ckpt_path: str | None, log_dir: str, task_name: str, experiment_name: str
) -> str | None:
    """The file `ckpt_path` names (see `choose_checkpoint`)."""
    return choose_checkpoint(ckpt_path, log_dir, task_name, experiment_name).path


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
