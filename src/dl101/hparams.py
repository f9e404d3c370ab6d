"""What TensorBoard shows beside a run's curves: its HPARAMS row (the keys its sweep varies first,
then a short list of what readers compare) and its Custom Scalars layout (train against val)."""

from __future__ import annotations

import os

from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import Logger, TensorBoardLogger
from pytorch_lightning.utilities import rank_zero_only
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
from torch.utils.tensorboard.summary import hparams

from dl101.sweep_names import SWEPT_KEYS_VAR, job_values, labels

# What readers compare across runs, as (column, config key); a key the run lacks is left out.
COMPARED = (
    ("model", "model._target_"),
    ("optimizer", "model.optimizer._target_"),
    ("lr", "model.optimizer.lr"),
    ("weight_decay", "model.optimizer.weight_decay"),
    ("dropout", "model.dropout"),
    ("hidden_sizes", "model.hidden_sizes"),
    ("activation", "model.activation"),
    ("init", "model.init"),
    ("cell", "model.cell"),
    ("hidden_size", "model.hidden_size"),
    ("cnn_variant", "cnn_variant_name"),
    ("batch_size", "data.batch_size"),
    ("max_epochs", "trainer.max_epochs"),
    ("max_steps", "trainer.max_steps"),
    ("regularization", "regularization_name"),
    ("seed", "seed"),
    ("experiment_name", "experiment_name"),
)
# Metrics the HPARAMS tab shows beside each run; their values are the runs' own scalars.
JUDGED_BY = (
    "val/acc", "val/acc_best", "val/loss", "test/acc", "test/loss", "train/loss_epoch",
    "train_eval/acc", "val/mse", "test/mse", "val/ppl", "test/ppl",
)  # fmt: skip


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


def hparams_summaries(params: dict, swept: list[str]) -> list:
    """TensorBoard's three HPARAMS summaries for this run, the swept columns marked as the ones
    that differ: HPARAMS puts those first."""
    experiment, *sessions = hparams(params, dict.fromkeys(JUDGED_BY, 0.0))
    value = experiment.value[0]
    data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
    varied = set(labels(swept).values())
    for info in data.experiment.hparam_infos:
        info.differs = info.name in varied
    value.metadata.plugin_data.content = data.SerializeToString()
    return [experiment, *sessions]


def swept_hparams(job_overrides: list[str], swept: list[str]) -> dict[str, int | float | str]:
    """The values of the keys the sweep varied, as this job set them, labelled as in its name."""
    label = labels(swept)
    return {label[key]: typed(value) for key, value in job_values(job_overrides, swept).items()}


def run_hparams(cfg: DictConfig, job_overrides: list[str], swept: list[str]):
    """The swept keys first, then the compared ones this run has; no paths, no `_target_`s."""
    params = swept_hparams(job_overrides, swept)
    for column, key in COMPARED:
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and column not in params:
            params[column] = scalar(
                OmegaConf.to_object(value) if OmegaConf.is_config(value) else value
            )
    return params


def layout(cfg: DictConfig) -> dict:
    """Custom Scalars: train and val on one chart per quantity, plus what the lesson needs."""
    charts = {
        "accuracy": ["Multiline", [r"^(train|train_eval|val)/acc$"]],
        "loss": ["Multiline", [r"^(train/loss_epoch|train_eval/loss|val/loss)$"]],
    }
    target = str(OmegaConf.select(cfg, "model._target_", default=""))
    if target.endswith("LanguageModel"):
        charts["perplexity"] = ["Multiline", [r"^(train|val)/ppl$"]]
    if target.endswith("LinearRegression"):
        charts["mse"] = ["Multiline", [r"^(train/loss_epoch|val/mse)$"]]
    if OmegaConf.select(cfg, "callbacks.gradient_flow", default=None):
        charts["gradient norm per layer"] = ["Multiline", [r"^grad_norm/layer\d+$"]]
    if OmegaConf.select(cfg, "callbacks.test_set_curve", default=None):
        charts["test accuracy (the course's curve) vs val"] = [
            "Multiline", [r"^(test_curve|val)/acc$"]
        ]  # fmt: skip
    return {"train vs val": charts}


def job_context() -> tuple[list[str], list[str]]:
    """This job's overrides and the keys its sweep varied ([] outside a sweep)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return [], []
    config = HydraConfig.get()
    swept = str(config.job.env_set.get(SWEPT_KEYS_VAR, os.environ.get(SWEPT_KEYS_VAR, "")))
    return list(config.overrides.task), swept.split()


@rank_zero_only  # the other DDP processes have no writer
def log_hparams(loggers: list[Logger], cfg: DictConfig) -> None:
    job_overrides, swept = job_context()
    params = run_hparams(cfg, job_overrides, swept)
    for logger in loggers:
        logger.log_hyperparams(params)
        if isinstance(logger, TensorBoardLogger):
            # Lightning would also write placeholder values at step 0; declaring only the
            # metric names lets the tab read each run's real final scalars.
            writer = logger.experiment._get_file_writer()
            for summary in hparams_summaries(params, swept):
                writer.add_summary(summary)
            logger.experiment.add_custom_scalars(layout(cfg))
