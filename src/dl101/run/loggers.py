"""What dl101 says to particular loggers: TensorBoard's HPARAMS row (the keys a sweep varies
first, then a short list of what readers compare) and Custom Scalars layout (train against val),
a resumed run's TensorBoard curve carried on, MLflow on its local file store, the end of a
Weights & Biases run, and a run's provenance given to each logger in its own form."""

from __future__ import annotations

import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, MLFlowLogger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from tensorboard.plugins.hparams import summary_v2 as hp

from dl101.results.job_names import SWEPT_KEYS_VAR, job_values, labels

# What readers compare across runs of any model, as (column, config key); each run adds its
# model's own scalar arguments (`model_columns`) and the labels its config names (`labels`).
COMPARED = (
    ("model", "model._target_"),
    ("optimizer", "model.optimizer._target_"),
    ("lr", "model.optimizer.lr"),
    ("weight_decay", "model.optimizer.weight_decay"),
    ("batch_size", "data.batch_size"),
    ("max_epochs", "trainer.max_epochs"),
    ("max_steps", "trainer.max_steps"),
    ("seed", "seed"),
    ("experiment_name", "experiment_name"),
)
# Model arguments that are not hyper-parameters to compare: the optimizer's (above) and the
# shapes the data gives.
NOT_COMPARED = {"optimizer", "scheduler", "scheduler_interval", "input_shape", "num_classes",
                "num_features", "vocab_size"}  # fmt: skip


def scalar(value) -> int | float | str | bool:
    """A value HPARAMS can show: numbers and text as they are, class paths by their class name,
    lists and None as text."""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value.rsplit(".", 1)[-1] if value.count(".") >= 2 else value  # torch.optim.SGD
    return str(value)


def typed(text: str) -> int | float | str:
    """An override's value as a number where it is one, so HPARAMS can sort and plot it."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def hparams_summaries(params: dict, swept: list[str], name: str, metrics=()) -> list:
    """TensorBoard's HPARAMS summaries for this run: its session (the row of its values) and,
    outside a sweep, the experiment that names the columns and the metrics. A sweep's
    experiment is written once at its end, from all its jobs (`dl101.results.sweep_summary`):
    only then is it known which columns differ."""
    session = hp.hparams_pb(params, trial_id=name)  # HPARAMS's Trial ID: the run's folder
    if swept:
        return [session]
    columns = [hp.HParam(column) for column in params]
    experiment = hp.hparams_config_pb(hparams=columns, metrics=[hp.Metric(m) for m in metrics])
    return [experiment, session]


def swept_hparams(job_overrides: list[str], swept: list[str]) -> dict[str, int | float | str]:
    """The values of the keys the sweep varied, as this job set them, labelled as in its name."""
    label = labels(swept)
    return {label[key]: typed(value) for key, value in job_values(job_overrides, swept).items()}


def shown(value) -> bool:
    """Whether a config value fits an HPARAMS cell: a scalar, or a list of scalars."""
    if isinstance(value, list):
        return all(isinstance(v, bool | int | float | str) for v in value)
    return isinstance(value, bool | int | float | str)


def model_columns(cfg: DictConfig) -> dict:
    """The model's own arguments in its config (a width, an activation, dropout): what one
    model differs from another by, whatever the model."""
    model = OmegaConf.to_container(cfg.get("model") or {}, resolve=True)
    return {
        key: scalar(value)
        for key, value in model.items()
        if not key.startswith("_") and key not in NOT_COMPARED and shown(value)
    }


def config_labels(cfg: DictConfig) -> dict:
    """Labels a config sets at its top (`regularization_name: dropout`), by their name."""
    return {
        key.removesuffix("_name"): value
        for key, value in cfg.items()
        if key.endswith("_name") and key not in ("task_name", "experiment_name")
        and isinstance(value, str)
    }  # fmt: skip


def run_hparams(cfg: DictConfig, job_overrides: list[str], swept: list[str]):
    """The swept keys first, then the compared ones this run has; no paths, no `_target_`s."""
    params = swept_hparams(job_overrides, swept)
    columns = {}
    for column, key in COMPARED:
        value = OmegaConf.select(cfg, key, default=None)
        if isinstance(value, str) and key.endswith("._target_"):  # my_models.Tiny: Tiny
            columns[column] = value.rsplit(".", 1)[-1]
        elif value is not None:
            columns[column] = scalar(value)
    for column, value in {**columns, **model_columns(cfg), **config_labels(cfg)}.items():
        params.setdefault(column, value)
    return params


def layout(model, callbacks: list) -> dict:
    """Custom Scalars: train and val on one chart per quantity, as the model declares them,
    and the charts of the callbacks that log more (gradient norms, the course's test curve)."""
    charts = dict(model.charts)
    for callback in callbacks:
        charts.update(getattr(callback, "charts", {}))
    return {"train vs val": charts}


def job_context() -> tuple[list[str], list[str], dict]:
    """This job's overrides, the keys its sweep varied ([] outside a sweep) and the option it
    chose in each config group (Hydra's runtime choices: `data: mnist`)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return [], [], {}
    config = HydraConfig.get()
    swept = str(config.job.env_set.get(SWEPT_KEYS_VAR, os.environ.get(SWEPT_KEYS_VAR, "")))
    return list(config.overrides.task), swept.split(), dict(config.runtime.choices)


@rank_zero_only  # the other DDP processes have no writer
def log_hparams(loggers: list[Logger], cfg: DictConfig, model, callbacks: list) -> None:
    job_overrides, swept, choices = job_context()
    params = run_hparams(cfg, job_overrides, swept)
    if choices.get("data"):
        params.setdefault("data", choices["data"])  # which dataset, by its config's name
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            # Lightning would also write placeholder metric values at step 0; with the
            # summaries written here, the tab shows each run's real final scalars.
            name = Path(logger.log_dir).name
            for summary in hparams_summaries(params, swept, name, model.judged_by):
                logger.experiment.file_writer.add_summary(summary)
            logger.experiment.add_custom_scalars(layout(model, callbacks))


def continue_tensorboard(logger_cfg: DictConfig | None, step: int) -> DictConfig | None:
    """TensorBoard loggers that hide what the killed run logged from its checkpoint's `step` on
    (SummaryWriter's purge_step): the resumed run's curve carries on without a doubled stretch.
    Lightning logs a step's scalars at the count of steps done before it, so whatever is logged
    at `step` or later came after the checkpoint (the next epoch's mean, learning rate)."""
    tensorboard = "pytorch_lightning.loggers.TensorBoardLogger"
    purge = {
        key: {"purge_step": step}
        for key, entry in (logger_cfg or {}).items()
        if entry is not None and entry.get("_target_") == tensorboard
    }
    if not purge:
        return logger_cfg
    # A plain copy first: struct configs refuse the new key.
    return OmegaConf.merge(OmegaConf.to_container(logger_cfg, resolve=True), purge)


class MLflowFileStoreLogger(MLFlowLogger):
    """Lightning's MLFlowLogger on a `file:` store. MLflow 3 asks for an opt-in to its file
    store (it prefers a database); dl101 opts in: nothing to migrate or lock, and sweep jobs
    side by side write their own files."""

    def __init__(self, *args, **kwargs):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        super().__init__(*args, **kwargs)


def finish_trackers(loggers: list) -> None:
    """End each W&B run with its training: W&B keeps a run open until `finish()`, and the next
    job of a sweep in this process would log into it."""
    from pytorch_lightning.loggers import WandbLogger

    for logger in loggers:
        if isinstance(logger, WandbLogger):
            logger.experiment.finish()


def send_provenance(loggers: list, lines: list[str], tags: dict[str, str]) -> None:
    """A run's provenance: TensorBoard's TEXT tab (`provenance`), MLflow's run tags, W&B's run
    config (its tags are short labels: the commit and dl101's version)."""
    from pytorch_lightning.loggers import TensorBoardLogger, WandbLogger

    for logger in loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_text("provenance", "\n".join(f"    {line}" for line in lines))
        elif isinstance(logger, MLFlowLogger):
            for key, value in tags.items():
                logger.experiment.set_tag(logger.run_id, key, value[:5000])  # MLflow's limit
        elif isinstance(logger, WandbLogger):
            logger.experiment.config.update({"provenance": tags}, allow_val_change=True)
            commit = tags.get("mlflow.source.git.commit", "")[:12]
            labels = [f"git:{commit}" if commit else "", f"dl101:{tags['dl101.version.dl101']}"]
            logger.experiment.tags = (*logger.experiment.tags, *filter(None, labels))
