"""A group of sweep jobs trained together as one stacked model (`dl101.stacked.model`) under
one Lightning Trainer, each job still its own run: its folder, its loggers (a TensorBoard run with
the tags and steps a separate job writes), its HPARAMS row, `judged_by.yaml`, `provenance.yaml`,
its checkpoints (a separate run's format, saved by its own ModelCheckpoint callbacks) and
`final_metrics.json`; a member whose loss becomes NaN is marked failed alone.

Each member is built as its own run builds it (`build(cfg)`: seeded by its seed, then its
datamodule and model instantiated), so its initial weights are its separate run's; its batches
come from the one copy of the data in its own seeded order (`EpochShuffleSampler(seed)`), so
they are its separate run's too; its datamodule's batch hook (augmentation) runs on its own
batch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import Checkpoint, ModelCheckpoint
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from pytorch_lightning.utilities.exceptions import SIGTERMException

from dl101.callbacks import NonFiniteLossError, SaveOnSignal, ValidateFinalWeights
from dl101.callbacks.training import non_finite_message
from dl101.data.batching import EpochShuffleSampler, IndexBatchSampler, TensorBatches
from dl101.files import write_atomic
from dl101.internals import (
    append_records,
    batches_done_this_epoch,
    dump_checkpoint,
    last_saved_step,
    logged_step,
)
from dl101.results.event_files import scalar_records
from dl101.run.checkpoints import RNGStateInCheckpoint, RunConfigInCheckpoint
from dl101.run.config import absolute_data_paths
from dl101.run.loggers import continue_tensorboard, finish_trackers, log_hparams
from dl101.run.provenance import checkouts, record_provenance
from dl101.run.sweeps import mark_failed, mark_finished
from dl101.run.training import (
    build,
    cluster_plugins,
    instantiate_group,
    quiet_known_warnings,
    with_model_monitor,
    write_judged_by,
)
from dl101.stacked.grouping import Member, NotStackable
from dl101.stacked.model import (
    DROPOUTS,
    StackedClassifier,
    dropout_rates,
    stacked_template,
)
from dl101.stacked.optim import stacked_optimizer

log = logging.getLogger(__name__)
MEMBER_KEY = "dl101_stacked_member"  # in a member's checkpoint: what its group resumes from
FLUSH_SECONDS = 10


@contextlib.contextmanager
def as_job(member: Member):
    """Hydra's config of `member`'s job while its files are written, as in a separate job."""
    hydra_config = HydraConfig.instance()
    before = hydra_config.cfg
    hydra_config.set_config(member.job_config)
    try:
        yield
    finally:
        hydra_config.cfg = before


class MemberLoggers(Logger):
    """Every member's loggers behind one Lightning logger: `m<i>/<tag>` goes to member i's as
    `<tag>`, with the keys that carry no member (`epoch`) that Lightning adds to the call. A
    member's TensorBoard scalars are held and written in one append per flush (every
    FLUSH_SECONDS, at each checkpoint, at the end): written as they come, N members' writer
    threads opening their files once per event cost a third of a small group's fit."""

    def __init__(self, members: list[Member]):
        super().__init__()
        self.members = members
        self.flushed = time.monotonic()
        self.held: dict[int, tuple[TensorBoardLogger, list]] = {}
        self.checkpoint_step = 0  # the step of the last checkpoints (flush_with_checkpoint)

    @property
    def name(self) -> str:
        return "members"

    @property
    def version(self) -> str:
        return ""

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass  # each member's own (log_hparams), written when its run starts

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        shared, own = {}, {}
        for key, value in metrics.items():
            head, _, tag = key.partition("/")
            if head.startswith("m") and head[1:].isdigit() and tag:
                own.setdefault(int(head[1:]), {})[tag] = value
            else:
                shared[key] = value
        now = time.time()
        for index, tags in own.items():
            for logger in self.members[index].loggers:
                if type(logger) is TensorBoardLogger:  # what its log_metrics writes, in one event
                    events = self.held.setdefault(id(logger), (logger, []))[1]
                    events.append((now, step, {**tags, **shared}))
                else:
                    logger.log_metrics({**tags, **shared}, step=step)
        if step is not None and step < self.checkpoint_step:
            # Logged after the checkpoints at a step they hold (the epoch's end after its
            # validation saved them): a run resumed from them will not log it again.
            self.flush()

    def flush_with_checkpoint(self, step: int) -> None:
        """The curves up to the checkpoints just saved at `step`, on disk with them."""
        self.checkpoint_step = step
        self.flush()

    def save(self) -> None:
        """Lightning calls this after every logging call: at most every FLUSH_SECONDS."""
        if time.monotonic() - self.flushed > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Every member's scalars so far on disk (a killed group's curves then hold what it
        resumes from)."""
        for logger, events in self.held.values():
            if events:
                append_records(logger.experiment, scalar_records(events))
                events.clear()
        for member in self.members:
            for logger in member.loggers:
                logger.save()
        self.flushed = time.monotonic()

    def finalize(self, status: str) -> None:
        self.flush()
        for member in self.members:
            for logger in member.loggers:
                logger.finalize("failed" if member.failed else status)


class MemberTrainer:
    """The group's trainer as member `index`'s ModelCheckpoint callbacks see it: its own metrics
    as `callback_metrics`, and `save_checkpoint` writing its own checkpoint."""

    def __init__(self, trainer: pl.Trainer, group: StackedGroup, index: int):
        self._trainer, self._group, self._index = trainer, group, index

    def __getattr__(self, name):
        return getattr(self._trainer, name)

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        own = self._group.module.last_metrics[self._index]
        return {name: torch.tensor(value) for name, value in own.items()}

    def save_checkpoint(self, filepath, weights_only: bool = False, storage_options=None) -> None:
        checkpoint = self._group.member_checkpoint(self._index, weights_only)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(Path(filepath), buffer.getvalue())


class MemberCheckpoints(Checkpoint):
    """Drives each live member's own ModelCheckpoint callbacks (its best and last checkpoints,
    as its config sets them) at the hooks where Lightning calls a separate run's; a Checkpoint
    so that Lightning calls it where it calls those, after the model's epoch-end hooks."""

    def __init__(self, group: StackedGroup):
        self.group = group

    def each(self, hook: str, trainer, *args) -> None:
        saved = False
        for index, member in enumerate(self.group.members):
            if member.failed is None:
                proxy = MemberTrainer(trainer, self.group, index)
                for callback in member.checkpoints:
                    if callback.save_top_k == 0 and not callback.save_last:
                        continue  # it never saves (it would copy the metrics at each hook)
                    before = last_saved_step(callback)
                    getattr(callback, hook)(proxy, self.group.module, *args)
                    saved |= last_saved_step(callback) != before
        if saved:
            trainer.logger.flush_with_checkpoint(trainer.global_step)

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.each("setup", trainer, stage)

    def on_train_start(self, trainer, pl_module) -> None:
        self.each("on_train_start", trainer)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.each("on_train_batch_end", trainer, outputs, batch, batch_idx)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.each("on_train_epoch_end", trainer)

    def on_validation_end(self, trainer, pl_module) -> None:
        self.each("on_validation_end", trainer)


class MemberSaveOnSignal(SaveOnSignal):
    """SaveOnSignal for a group: every live member's last.ckpt at the current step."""

    def __init__(self, group: StackedGroup):
        super().__init__()
        self.group = group

    def save(self, trainer: pl.Trainer) -> None:
        saved = []
        for index, member in enumerate(self.group.members):
            last = [c for c in member.checkpoints if c.monitor is None]
            if member.failed is None and last:
                path = Path(last[0].dirpath) / "last.ckpt"
                MemberTrainer(trainer, self.group, index).save_checkpoint(path)
                saved.append(path)
        trainer.logger.flush_with_checkpoint(trainer.global_step)
        step, requeue = trainer.global_step, self.requeue_requested
        self.save_requested = self.requeue_requested = False
        where = f"last.ckpt of {len(saved)} stacked jobs"
        if trainer.received_sigterm:
            log.warning(f"Stopped by SIGTERM at step {step}: saved the {where}; continue the "
                        "sweep with its command again and hydra.sweep.dir")  # fmt: skip
            raise SIGTERMException
        if requeue:
            self.hand_over_requeue(f"saved the {where} at step {step}")
            return
        log.warning(f"SIGUSR1: saved the {where} at step {step}")


class MemberScalars(pl.Callback):
    """What the callbacks of a separate run log beside the model, for each member whose config
    has them: the learning rate at each epoch's start (LearningRateMonitor) and, at the fit's
    end, the parameter count and fit time (RunStats; the group's time shared among its
    members)."""

    def __init__(self, group: StackedGroup, learning_rate: str | None, run_stats: bool):
        self.group, self.learning_rate, self.run_stats = group, learning_rate, run_stats

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self.learning_rate:
            lrs = torch.tensor(trainer.optimizers[0].hyper["lr"])
            step = logged_step(trainer)
            self.group.module.log_members({self.learning_rate: lrs}, step=step, keep=True)

    def on_fit_start(self, trainer, pl_module) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.run_stats:
            module = self.group.module
            share = (time.perf_counter() - self.start) / module.size
            params = [sum(p.numel() for p in m.model.parameters()) for m in self.group.members]
            stats = {"stats/params": torch.tensor(params, dtype=torch.float64),
                     "stats/fit_seconds": torch.full((module.size,), share)}  # fmt: skip
            module.log_members(stats, step=trainer.global_step, keep=False)


class MemberBatches:
    """Each member's training batches from one in-memory training set, each in its member's own
    seeded order as its separate run's loader draws them, stacked: x (N, B, ...), y (N, B).
    Lightning calls `sampler.set_epoch` at each epoch's start."""

    def __init__(self, data: TensorBatches, batch_size: int, seeds: list[int], trainer):
        done = lambda: batches_done_this_epoch(trainer)  # noqa: E731  (a mid-epoch resume)
        self.data = data
        self.batches = [
            IndexBatchSampler(EpochShuffleSampler(len(data), seed), batch_size,
                              device=data.x.device, done=done)
            for seed in seeds
        ]  # fmt: skip
        self.sampler = self

    def set_epoch(self, epoch: int) -> None:
        for batches in self.batches:
            batches.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches[0])

    def __iter__(self):
        x, y = self.data.x, self.data.y
        for indices in zip(*self.batches, strict=True):
            index = torch.stack(indices)  # (N, B)
            flat = index.flatten()
            yield (
                x.index_select(0, flat).view(*index.shape, *x.shape[1:]),
                y.index_select(0, flat).view(index.shape),
            )


class StackedGroup:
    """Builds, trains and tests one group; `outcomes` then holds each member's final metrics or
    why it failed."""

    def __init__(self, members: list[Member]):
        self.members = members
        self.module: StackedClassifier | None = None
        self.trainer: pl.Trainer | None = None
        self._dump: tuple[int, bool, dict] | None = None
        self._saved: dict[int, tuple[list, dict]] = {}  # a member's param groups and config

    # Building.

    def build(self) -> None:
        """Each member's model and datamodule, built as its own run builds them; the template;
        the data set up once; the stacked model; refused (NotStackable) where it cannot be."""
        for member in self.members:
            absolute_data_paths(member.cfg.get("data"))
            member.model, member.datamodule = build(member.cfg)
        # The template: the member with the most dropout layers (the others join at rate 0).
        counts = [
            sum(isinstance(m, DROPOUTS) for m in member.model.modules()) for member in self.members
        ]
        widest = self.members[counts.index(max(counts))].model
        rates = [dropout_rates(widest, member.model) for member in self.members]
        if any(r is None for r in rates):
            raise NotStackable("their layers differ beyond dropout")
        template = stacked_template(widest)
        for member in self.members:
            names = [n for n, _ in template.named_parameters()] + [
                n for n, _ in template.named_buffers() if not n.endswith(".rate")
            ]
            own = [n for n, _ in member.model.named_parameters()] + [
                n for n, _ in member.model.named_buffers()
            ]
            member.names = dict(zip(names, own, strict=True))
        cfg = self.members[0].cfg
        target = cfg.model.optimizer._target_
        keywords = [self.optimizer_keywords(member.cfg) for member in self.members]
        self.module = StackedClassifier(
            template,
            [member.model for member in self.members],
            rates,
            lambda params: stacked_optimizer(params, target, keywords),
        )
        self.module.on_member_failed = self.member_failed
        for member in self.members:  # their weights are the stacked model's now
            member.model.to("meta")

    @staticmethod
    def optimizer_keywords(cfg: DictConfig) -> dict:
        own = OmegaConf.to_container(cfg.model.optimizer, resolve=True)
        return {k: v for k, v in own.items() if not k.startswith("_")}

    def setup_data(self) -> None:
        datamodule = self.members[0].datamodule
        datamodule.trainer = self.trainer
        datamodule.prepare_data()
        datamodule.setup("fit")
        if not isinstance(getattr(datamodule, "train_set", None), TensorBatches):
            raise NotStackable(
                f"{type(datamodule).__name__}: its training set is not held in memory as "
                "tensors (TensorBatches)"
            )
        hooks: dict[str, tuple] = {}
        for index, member in enumerate(self.members):
            member.datamodule.trainer = self.trainer
            own = type(member.datamodule).on_after_batch_transfer
            if own is not pl.LightningDataModule.on_after_batch_transfer:
                data = OmegaConf.to_yaml(member.cfg.data)  # one hook a data config
                hook, members = hooks.setdefault(
                    data, (member.datamodule.on_after_batch_transfer, [])
                )
                members.append(index)
        self.module.batch_hooks = list(hooks.values())
        x = datamodule.train_set.x[:2]
        self.module.template.eval()  # no batch-norm statistics updated by the probe
        try:  # a forward the vmap cannot batch (nn.LSTM, nn.GRU) is refused here
            with torch.no_grad():
                self.module.logits(x, shared=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise NotStackable(f"torch.func cannot batch its forward ({first})") from None

    def make_trainer(self, sweep_dir: Path) -> None:
        cfg = self.members[0].cfg
        for member in self.members:
            logger_cfg = member.cfg.get("logger")
            if member.resume is not None:
                resumed = torch.load(member.resume, map_location="cpu", weights_only=True)
                logger_cfg = continue_tensorboard(logger_cfg, resumed["global_step"])
            member.loggers = instantiate_group(logger_cfg, "logger")
            callback_cfg = with_model_monitor(member.cfg.get("callbacks"), member.model)
            member.callbacks = instantiate_group(callback_cfg, "callbacks")
        first = self.members[0].callbacks
        lr_monitors = [c for c in first if type(c).__name__ == "LearningRateMonitor"]
        kind = self.members[0].cfg.model.optimizer._target_.rsplit(".", 1)[-1]
        callbacks = [
            MemberCheckpoints(self),
            RNGStateInCheckpoint(),
            MemberScalars(self, f"lr-{kind}" if lr_monitors else None,
                          any(type(c).__name__ == "RunStats" for c in first)),
            *[c for c in first if isinstance(c, ValidateFinalWeights)],
            *[MemberSaveOnSignal(self) for c in first if isinstance(c, SaveOnSignal)],
            *[c for c in first if isinstance(c, pl.callbacks.ProgressBar)],
            *[c for c in first if getattr(type(c), "stacks", False)],
        ]  # fmt: skip
        self.trainer = instantiate(
            cfg.trainer,
            default_root_dir=str(sweep_dir),
            callbacks=callbacks,
            logger=MemberLoggers(self.members),
            enable_model_summary=False,
            plugins=[*instantiate(cfg.trainer.get("plugins") or []), *cluster_plugins()],
        )

    # A member's checkpoint, as its separate run's.

    def member_checkpoint(self, index: int, weights_only: bool) -> dict:
        trainer, member = self.trainer, self.members[index]
        key = (trainer.global_step, weights_only)
        if self._dump is None or self._dump[:2] != key:  # one dump per save, shared by members
            dumped = dump_checkpoint(trainer, weights_only)
            self._dump = (*key, dumped)
        dumped = self._dump[2]
        own = self.module.member_state_dict(index)
        checkpoint = {
            k: v
            for k, v in dumped.items()
            if k not in ("state_dict", "optimizer_states", "callbacks")
        }
        checkpoint["state_dict"] = {
            member.names[name]: value for name, value in own.items() if name in member.names
        }
        # What does not change between a member's saves is found at its first (a member saves
        # 10 times in course_overfit, and resolving its config costs more than the save).
        if index not in self._saved:
            reference = member.model.optimizer_factory(params=member.model.parameters())
            self._saved[index] = (reference.state_dict()["param_groups"],
                                  OmegaConf.to_container(member.cfg, resolve=True))  # fmt: skip
        param_groups, run_config = self._saved[index]
        if not weights_only:
            optimizer = trainer.optimizers[0]
            checkpoint["optimizer_states"] = [
                {"state": optimizer.member_state(index), "param_groups": param_groups}
            ]
            checkpoint["callbacks"] = {c.state_key: c.state_dict() for c in member.checkpoints}
        checkpoint[RunConfigInCheckpoint.key] = run_config
        checkpoint[RNGStateInCheckpoint.key] = torch.get_rng_state()
        checkpoint[MEMBER_KEY] = {
            "val_acc_best": float(self.module.val_acc_best[index]),
            "members": len(self.members),
        }
        datamodule = member.datamodule
        if state := datamodule.state_dict():
            checkpoint[type(datamodule).__qualname__] = state
        return checkpoint

    def template_state(self, member: Member, checkpoint: dict) -> dict[str, torch.Tensor]:
        """A member checkpoint's weights under the template's names, its dropout rates added."""
        state = {name: checkpoint["state_dict"][own] for name, own in member.names.items()}
        index = self.members.index(member)
        rates = self.module.member_state_dict(index)
        state.update({name: value for name, value in rates.items() if name.endswith(".rate")})
        return state

    # Resuming a killed group from its members' last.ckpt.

    def stacked_checkpoint(self, path: Path) -> Path:
        """One checkpoint of the stacked model from its members' (all at one step)."""
        checkpoints = [
            torch.load(m.resume, map_location="cpu", weights_only=True) for m in self.members
        ]
        first = checkpoints[0]
        stacked_state = {}
        module_state = self.module.state_dict()
        states = [self.template_state(m, c) for m, c in zip(self.members, checkpoints, strict=True)]
        for i, name in enumerate(self.module.param_names):
            stacked_state[f"stacked.{i}"] = torch.stack([s[name] for s in states])
        for i, name in enumerate(self.module.buffer_names):
            stacked_state[f"buffer{i}"] = torch.stack([s[name] for s in states])
        stacked_state["alive"] = module_state["alive"]
        stacked_state["val_acc_best"] = torch.tensor(
            [c[MEMBER_KEY]["val_acc_best"] for c in checkpoints]
        )
        optimizer = self.module.make_optimizer(list(self.module.stacked))
        optimizer.load_member_states([c["optimizer_states"][0]["state"] for c in checkpoints])
        for member, checkpoint in zip(self.members, checkpoints, strict=True):
            for callback in member.checkpoints:
                if callback.state_key in checkpoint.get("callbacks", {}):
                    callback.load_state_dict(checkpoint["callbacks"][callback.state_key])
        stacked = {
            k: v
            for k, v in first.items()
            if k not in ("state_dict", "optimizer_states", "callbacks", MEMBER_KEY)
        }
        stacked["state_dict"] = stacked_state
        stacked["optimizer_states"] = [optimizer.state_dict()]
        stacked["callbacks"] = {RNGStateInCheckpoint.__qualname__: {}}
        torch.save(stacked, path)
        return path

    # Training.

    def member_failed(self, index: int, loss: float, step: int, batch_idx: int) -> None:
        member = self.members[index]
        message = non_finite_message(loss, step, self.trainer.current_epoch, batch_idx)
        member.failed = f"{NonFiniteLossError.__name__}: {message}"
        mark_failed(member.folder, NonFiniteLossError(message))
        log.warning(f"{member.folder.name} failed alone: {message}")

    def start_runs(self) -> None:
        """What each member's run writes before it trains, as train() writes it."""
        code_states = checkouts()  # the same checkouts for every member: git asked once
        for member in self.members:
            with as_job(member):
                checkpoint_cfg = [c for c in member.checkpoints if c.monitor is not None]
                write_judged_by(member.folder, member.model, _Judged(checkpoint_cfg))
                stacked = {"stacked": f"trained in a stacked group of {len(self.members)} jobs "
                           "(hydra/launcher=stacked)"}  # fmt: skip
                record_provenance(member.folder, self.trainer, member.loggers, "dl101.train",
                                  stacked, code_states)  # fmt: skip
                log_hparams(member.loggers, member.cfg, member.model, member.callbacks)

    def fit_and_test(self) -> None:
        datamodule = self.members[0].datamodule
        batch_size = datamodule.batch_size
        seeds = [int(member.cfg.seed) for member in self.members]
        batches = MemberBatches(datamodule.train_set, batch_size, seeds, self.trainer)
        ckpt_path = None
        if self.members[0].resume is not None:
            ckpt_path = self.stacked_checkpoint(
                self.members[0].folder.parent / ".stacked_resume.ckpt"
            )
        validation = datamodule.val_dataloader()
        try:
            self.trainer.fit(self.module, batches, validation, ckpt_path=ckpt_path)
        except SIGTERMException:
            raise SystemExit(143) from None
        finally:
            if ckpt_path is not None:
                Path(ckpt_path).unlink(missing_ok=True)
        if not self.members[0].cfg.get("test"):
            return
        for index, member in enumerate(self.members):  # each tested at its best weights
            best = [
                c.best_model_path for c in member.checkpoints if c.monitor and c.best_model_path
            ]
            if best and member.failed is None:
                checkpoint = torch.load(best[0], map_location="cpu", weights_only=True)
                self.module.load_member_state_dict(index, self.template_state(member, checkpoint))
        self.trainer.test(self.module, dataloaders=datamodule.test_dataloader(), verbose=False)

    def finish(self) -> dict[Path, dict | str]:
        self.trainer.logger.flush()  # the test's scalars too
        outcomes = {}
        for index, member in enumerate(self.members):
            finish_trackers(member.loggers)
            if member.failed:
                outcomes[member.folder] = member.failed
                continue
            metrics = dict(self.module.last_metrics[index])
            mark_finished(member.folder, metrics)
            outcomes[member.folder] = metrics
        return outcomes


class _Judged:
    """What write_judged_by reads of a trainer: its best-checkpoint callback."""

    def __init__(self, checkpoints: list[ModelCheckpoint]):
        self.checkpoint_callback = checkpoints[0] if checkpoints else None


def train_group(members: list[Member], sweep_dir: Path,
                threads: int | None = None) -> dict[Path, dict | str]:  # fmt: skip
    """Train `members` as one stacked model; each member's final metrics, or why it failed.
    NotStackable before any of their files is written where the group cannot stack. `threads`:
    torch's threads where the jobs' config names no number (the cores this group may use)."""
    quiet_known_warnings()
    configured = members[0].cfg.get("threads")
    if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
        threads = configured
    if threads:
        torch.set_num_threads(threads)  # else torch's own: every core for the group
    group = StackedGroup(members)
    group.build()
    group.make_trainer(sweep_dir)
    group.setup_data()
    group.start_runs()
    group.fit_and_test()
    return group.finish()
