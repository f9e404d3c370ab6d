"""Which jobs of a sweep train together as one stacked model (hydra/launcher=stacked), and the
sweep's groups trained before Hydra runs its jobs.

Jobs stack when they train the same classifier class with the same layers and parameter shapes,
on the same data, batch size and step budget, and differ only in what a stacked model holds per
member: the seed (initialization, shuffling order, dropout masks, augmentation draws), the
optimizer's learning rate, momentum, weight decay (betas, eps), the dropout rates (a layer
without dropout joins as rate 0), and augmentation on or off. Everything else about the run (its
trainer, callbacks, loggers, test) must be the same; labels that only name a run
(`regularization_name`) may differ. A job that fits no group of two or more runs alone, as any
launcher's job, and the line that announces the groups says why.
"""

from __future__ import annotations

import copy
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from dl101.run.sweeps import job_state, mark_failed, note_stacked, resume_killed
from dl101.stacked.workers import GroupProcesses, cores

log = logging.getLogger(__name__)

# What a member may differ in, beyond its seed: (config path, keys).
DROPOUT_KEYS = ("dropout", "head_dropout")
# Callbacks a stacked group does for each member as its separate run would (by class name).
CALLBACKS = {"ModelCheckpoint", "RichProgressBar", "TQDMProgressBar", "RichModelSummary",
             "ModelSummary", "LearningRateMonitor", "RunStats", "ValidateFinalWeights",
             "SaveOnSignal", "FiniteLossGuard"}  # fmt: skip
LOGGERS = {"TensorBoardLogger", "CSVLogger"}
# The optimizers a stacked group can run, by class path, and the hyper-parameters its members
# may differ in (any other setting must be the same for all).
STACKABLE = {
    "torch.optim.SGD": ("lr", "momentum", "weight_decay", "dampening"),
    "torch.optim.Adam": ("lr", "weight_decay", "betas", "eps"),
    "torch.optim.AdamW": ("lr", "weight_decay", "betas", "eps"),
}
OPTIMIZER_FLAGS = ("nesterov", "amsgrad", "maximize", "capturable", "differentiable")


class NotStackable(Exception):
    """A group that cannot train stacked after all (found once built): its jobs run alone."""


@dataclass
class Member:
    """One job of a stacked group: its config (resolved), its Hydra config (set while its own
    files are written: its overrides name its HPARAMS row and reproduce command), its folder,
    and the checkpoint it resumes from (a killed sweep's last.ckpt). What its training builds
    (model, datamodule, loggers, callbacks) is set where the group trains."""

    cfg: DictConfig
    job_config: DictConfig
    folder: Path
    resume: Path | None = None
    model: Any = None
    datamodule: Any = None
    loggers: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # the template's name -> the model's
    failed: str | None = None

    @property
    def checkpoints(self) -> list:
        from pytorch_lightning.callbacks import ModelCheckpoint

        return [c for c in self.callbacks if isinstance(c, ModelCheckpoint)]


def class_name(target) -> str:
    return str(target or "").rsplit(".", 1)[-1]


@dataclass
class ClassFacts:
    """What the jobs' classes say, for the distinct classes a sweep names: each model class's
    reason it cannot stack (None: it can, or it does not load), whether each callback class
    outside CALLBACKS declares `stacks`, and each killed job's checkpoint to resume from
    (`resume_step`). Finding them imports torch and Lightning: a worker process answers, while
    the launcher reads the configs."""

    models: dict[str, str | None] = field(default_factory=dict)
    callbacks: dict[str, bool] = field(default_factory=dict)
    resumes: dict[Path, tuple] = field(default_factory=dict)


def class_facts(models: list[str], callbacks: list[str], killed: list[Path]) -> ClassFacts:
    return ClassFacts(
        models={target: model_refusal(target) for target in models},
        callbacks={target: declares_stacks(target) for target in callbacks},
        resumes={folder: resume_step(folder) for folder in killed},
    )


def model_refusal(target: str) -> str | None:
    """Why model class `target` cannot train stacked; None if it can or does not load (the
    job's own run says what is wrong with its model, in one line)."""
    try:
        cls = get_class(target)
    except Exception:
        return None
    reason = getattr(cls, "not_stacked_because", "not a dl101 model")
    if reason:
        return f"{cls.__name__}: {reason}"
    from dl101.models.base import Classifier

    for hook in ("training_step", "validation_step", "test_step"):
        if getattr(cls, hook) is not getattr(Classifier, hook):
            return f"{cls.__name__}: its own {hook}"
    return None


def declares_stacks(target: str) -> bool:
    """A callback class that declares it acts on the group's trainer alone (`stacks = True`: it
    reads no model, logs nothing)."""
    try:
        return bool(getattr(get_class(target), "stacks", False))
    except Exception:
        return False


def named_classes(cfg: DictConfig) -> tuple[str, list[str]]:
    """The model class and the callback classes outside CALLBACKS that the job of `cfg` names."""
    model = str((cfg.get("model") or {}).get("_target_", ""))
    entries = (cfg.get("callbacks") or {}).values()
    targets = [str(entry.get("_target_")) for entry in entries if entry is not None]
    return model, [t for t in targets if class_name(t) not in CALLBACKS]


def refusal(cfg: DictConfig, facts: ClassFacts | None = None) -> str | None:
    """Why the job of `cfg` cannot train in a stacked group, in a few words; None if it can.
    `facts`: its classes' (found here where not given)."""
    if facts is None:
        model_target, callback_targets = named_classes(cfg)
        facts = class_facts([model_target], callback_targets, [])
    if cfg.get("seed") is None:
        return "seed=null: a member is built and shuffled by its own seed"
    if cfg.get("ckpt_path"):
        return f"ckpt_path={cfg.ckpt_path}: a run resumed from a checkpoint of its own"
    if cfg.get("compile"):
        return "compile=true"
    model = cfg.get("model") or {}
    if reason := facts.models[str(model.get("_target_", ""))]:
        return reason
    if model.get("scheduler"):
        return "model.scheduler: a learning-rate schedule per member is not stacked"
    optimizer = model.get("optimizer") or {}
    if optimizer.get("_target_") not in STACKABLE:
        return f"model.optimizer={class_name(optimizer.get('_target_'))}: stacks SGD, Adam, AdamW"
    if flags := [flag for flag in OPTIMIZER_FLAGS if optimizer.get(flag)]:
        return f"model.optimizer.{flags[0]}=true"
    trainer = cfg.get("trainer") or {}
    if trainer.get("gradient_clip_val"):
        return "trainer.gradient_clip_val: clipping by norm is per model"
    if (trainer.get("accumulate_grad_batches") or 1) != 1:
        return "trainer.accumulate_grad_batches"
    if trainer.get("devices") not in (1, "1", None) or (trainer.get("num_nodes") or 1) != 1:
        return "several devices or nodes: a stacked group trains on one"
    if "ddp" in str(trainer.get("strategy", "")):
        return f"trainer.strategy={trainer.strategy}"
    if str(trainer.get("precision", "32-true")) not in ("32-true", "32"):
        return f"trainer.precision={trainer.precision}"
    for key, entry in (cfg.get("callbacks") or {}).items():
        target = str((entry or {}).get("_target_"))
        stacks = class_name(target) in CALLBACKS or facts.callbacks.get(target, False)
        if entry is not None and not stacks:
            return f"callbacks.{key} ({class_name(target)}) acts on one model"
        if class_name(target) == "LearningRateMonitor" and (
            entry.get("logging_interval") != "epoch" or entry.get("log_momentum")
        ):
            return f"callbacks.{key}: a stacked group logs the learning rate once an epoch"
    for key, entry in (cfg.get("logger") or {}).items():
        if entry is not None and class_name(entry.get("_target_")) not in LOGGERS:
            name = class_name(entry.get("_target_"))
            return f"logger.{key} ({name}): a stacked group writes TensorBoard and CSV logs"
    return None


def without_job_folder(value, folder: str):
    """`value` with the job's own folder taken out of every path in it."""
    if isinstance(value, dict):
        return {k: without_job_folder(v, folder) for k, v in value.items()}
    if isinstance(value, list):
        return [without_job_folder(v, folder) for v in value]
    return value.replace(folder, "<job>") if isinstance(value, str) else value


def stack_key(cfg: DictConfig, folder: str) -> str:
    """Jobs with equal keys can train as one group: their configs without what members may
    differ in."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    model = copy.deepcopy(plain.get("model") or {})
    for key in DROPOUT_KEYS:
        model.pop(key, None)
    for block in model.get("conv_blocks") or []:
        if isinstance(block, dict):
            block.pop("dropout", None)
    varying = STACKABLE.get(model.get("optimizer", {}).get("_target_"), ())
    model["optimizer"] = {k: v for k, v in model.get("optimizer", {}).items() if k not in varying}
    data = {k: v for k, v in (plain.get("data") or {}).items() if k != "augment"}
    loggers = {k: (v or {}).get("_target_") for k, v in (plain.get("logger") or {}).items()}
    key = {"model": model, "data": data, "trainer": plain.get("trainer"), "test": plain.get("test"),
           "callbacks": plain.get("callbacks"), "logger": loggers}  # fmt: skip
    return json.dumps(without_job_folder(key, folder), sort_keys=True, default=str)


def job_configs(sweep_config: DictConfig) -> tuple[DictConfig, Path]:
    """A sweep job's task config resolved as the job resolves it, and its folder; its Hydra
    config gets the output folder that Hydra's run_job will give it."""
    hydra_config = HydraConfig.instance()
    before = hydra_config.cfg
    try:
        hydra_config.set_config(sweep_config)
        folder = Path(str(OmegaConf.select(sweep_config, "hydra.sweep.dir"))) / str(
            OmegaConf.select(sweep_config, "hydra.sweep.subdir")
        )
        # Set in the job's config and in the copy that ${hydra:...} reads (copying it again
        # costs 10 ms a job: a 100-job sweep's plan outlasted the workers' imports).
        for runtime in (sweep_config.hydra.runtime, hydra_config.cfg.hydra.runtime):
            with read_write(runtime), open_dict(runtime):
                runtime.output_dir = str(folder.resolve())
        plain = {
            key: OmegaConf.to_container(sweep_config[key], resolve=True)
            if OmegaConf.is_config(sweep_config[key])
            else sweep_config[key]
            for key in sweep_config
            if key != "hydra"
        }
    finally:
        hydra_config.cfg = before
    return OmegaConf.create(plain), folder.resolve()


def resume_step(folder: Path) -> tuple[Path | None, int, str | None]:
    """A killed member's last.ckpt and its step; (None, 0) for a new one; a reason where it
    resumes alone (it was killed while training alone)."""
    import torch

    from dl101.stacked.training import MEMBER_KEY

    last = folder / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None, 0, None
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    if MEMBER_KEY not in checkpoint:
        return None, 0, "killed while training alone: it resumes alone from its last.ckpt"
    return last, int(checkpoint["global_step"]), None


def split_for(groups: list[list], processes: int) -> list[list]:
    """`groups` split in halves, the largest first, until each of `processes` processes has one
    (a part keeps at least two members)."""
    groups = sorted(groups, key=len, reverse=True)
    while len(groups) < processes and len(groups[0]) >= 4:
        largest = groups.pop(0)
        half = (len(largest) + 1) // 2
        groups = sorted([*groups, largest[:half], largest[half:]], key=len, reverse=True)
    return groups


def describe(groups: list[list], alone: dict[str, list], processes: int = 1) -> str:
    """The grouping in one line: '20 jobs -> 1 stacked group of 20', '18 jobs -> 6 stacked
    groups of 3, 3, 3, 3, 3, 3', the processes that train them side by side, each reason jobs
    run alone added ('; 2 alone (...)')."""
    jobs = sum(map(len, groups)) + sum(map(len, alone.values()))
    sizes = ", ".join(str(len(g)) for g in groups)
    if not groups:
        line = f"{jobs} jobs -> no stacked group"
    elif len(groups) == 1:
        line = f"{jobs} jobs -> 1 stacked group of {sizes}"
    else:
        line = f"{jobs} jobs -> {len(groups)} stacked groups of {sizes}"
        if processes > 1:
            line += f" ({min(processes, len(groups))} processes side by side)"
    for reason, folders in alone.items():
        line += f"; {len(folders)} alone ({reason})"
    return line


def train_in_worker(members: list[Member], sweep_dir: Path, threads: int | None):
    """One group's training in a worker process (`dl101.stacked.workers`), or in the launcher's
    own process (threads None)."""
    from dl101.stacked.training import train_group
    from dl101.stacked.workers import between_groups

    try:
        return train_group(members, sweep_dir, threads)
    finally:
        if threads is not None:  # in a worker: its trainer put back the handlers it found
            between_groups()


def plan(sweep_configs: list[DictConfig], max_group: int | None, processes: int,
         facts_of: Callable[..., ClassFacts] = class_facts):  # fmt: skip
    """The sweep's stacked groups (split so that each of `processes` processes has one), the
    jobs that run alone by reason, and how many jobs were done before. The configs are read
    here; what the jobs' classes say comes from `facts_of(models, callbacks, killed)`, which
    imports them (torch, Lightning): the launcher asks a worker process."""
    jobs, models, callbacks, killed = [], set(), set(), []
    done = 0
    for sweep_config in sweep_configs:
        cfg, folder = job_configs(sweep_config)
        state = job_state(folder)
        if state in ("finished", "failed"):
            done += 1
            continue
        model, own_callbacks = named_classes(cfg)
        models.add(model)
        callbacks.update(own_callbacks)
        if state == "killed":
            killed.append(folder)
        jobs.append((sweep_config, cfg, folder, state))
    facts = facts_of(sorted(models), sorted(callbacks), killed)
    by_key: dict[tuple, list] = defaultdict(list)
    alone: dict[str, list] = defaultdict(list)
    for sweep_config, cfg, folder, state in jobs:
        reason = refusal(cfg, facts)
        resume, step = None, 0
        if reason is None and state == "killed":
            resume, step, reason = facts.resumes[folder]
            if resume is None and reason is None:
                resume_killed(cfg, folder)  # its partial outputs cleared: it starts anew
        if reason:
            alone[reason].append(folder)
            continue
        member = Member(cfg=cfg, job_config=sweep_config, folder=folder, resume=resume)
        by_key[(stack_key(cfg, str(folder)), step)].append(member)
    groups = []
    for members in by_key.values():
        for start in range(0, len(members), max_group or len(members)):
            part = members[start : start + (max_group or len(members))]
            if len(part) > 1:
                groups.append(part)
            else:
                alone["no other job to stack with"].append(part[0].folder)
    if groups and processes > 1:
        groups = split_for(groups, processes)
    return groups, dict(alone), done


def train_stacked(sweep_configs: list[DictConfig], sweep_dir: Path, max_group: int | None,
                  workers: GroupProcesses | None = None,
                  trained: Callable[[list[Member]], None] | None = None) -> None:  # fmt: skip
    """Train the sweep's jobs that stack, group by group, before Hydra runs their jobs: a stacked
    member's job then finds its folder finished (or failed) and keeps it, as a continued sweep
    keeps a finished job (`dl101.run.sweeps.run_sweep_job`); the others train as usual. With
    `workers`, the groups train in its processes, side by side. `trained(members)` is called as
    each group's members have their outcome, while other groups may still train."""
    processes = workers.processes if workers else 1
    # The configs are read here while the workers import torch; they find the classes' facts.
    facts_of = partial(workers.call, class_facts) if workers else class_facts
    groups, alone, done = plan(sweep_configs, max_group, processes, facts_of)
    line = describe(groups, alone, processes)
    print(f"Stacked launcher: {line}" + (f" ({done} kept from before)" if done else ""))
    count = len(groups)
    labels = [f"stacked group {n} of {count} ({len(m)} jobs)" for n, m in enumerate(groups, 1)]
    for label, members in zip(labels, groups, strict=True):
        print(f"Training {label}: {', '.join(m.folder.name for m in members)}")

    def settle(index: int, result) -> None:
        label, members = labels[index], groups[index]
        if isinstance(result, NotStackable):
            print(f"The {label} cannot train stacked ({result}): its jobs run alone")
            return
        if isinstance(result, BaseException):  # a fault of the group: each job fails with it
            log.error(f"The {label} failed: {result}", exc_info=result)
            for member in members:
                if job_state(member.folder) != "failed":
                    mark_failed(member.folder, result)
        else:
            for folder, outcome in result.items():
                note_stacked(folder, f"{label}", failed=isinstance(outcome, str))
        if trained is not None:
            trained(members)

    if not (workers and groups):
        for index, members in enumerate(groups):
            settle(index, outcome_here(members, sweep_dir))
        return
    stopped: list[BaseException] = []

    def settle_future(index: int, future) -> None:
        try:
            result = future_outcome(future)
        except (SystemExit, KeyboardInterrupt) as stop:  # the other groups save too first
            stopped.append(stop)
            return
        if not stopped:
            settle(index, result)

    threads = max(1, cores() // min(processes, len(groups)))
    tasks = [(train_in_worker, (members, sweep_dir, threads)) for members in groups]
    workers.run(tasks, settle_future)
    if stopped:
        raise stopped[0]


def outcome_here(members: list[Member], sweep_dir: Path):
    """A group trained in this process: its outcomes, or the exception it failed with."""
    try:
        return train_in_worker(members, sweep_dir, None)
    except (SystemExit, KeyboardInterrupt):
        raise
    except Exception as err:
        return err


def future_outcome(future):
    """A group trained in a worker: its outcomes, or the exception it failed with; a worker
    stopped by a signal (its members saved) stops the sweep as it would have stopped it."""
    err = future.exception()
    if isinstance(err, SystemExit | KeyboardInterrupt):
        raise err
    return err if err is not None else future.result()
