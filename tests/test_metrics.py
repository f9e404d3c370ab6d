"""What the logged numbers mean: each stage's accuracy counts its own batches, `train/loss_epoch`
is the epoch's mean, testing uses the best checkpoint by val/acc, the learning rate follows its
schedule."""

from __future__ import annotations

import math
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning import Callback, LightningDataModule
from torch.utils.data import DataLoader, TensorDataset

from dl101.evaluate import evaluate
from dl101.models import SoftmaxRegression
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, scalars


class KnownBatches(LightningDataModule):
    """Train, val and test sets whose labels are chosen so that a model answering "0" for
    everything scores 1.0, 0.0 and 0.5 on them."""

    def __init__(self, x: torch.Tensor):
        super().__init__()
        n = len(x)
        labels = {"train": torch.zeros(n), "val": torch.ones(n), "test": torch.arange(n) % 2}
        self.sets = {stage: TensorDataset(x, y.long()) for stage, y in labels.items()}

    def train_dataloader(self):
        return DataLoader(self.sets["train"], batch_size=8)

    def val_dataloader(self):
        return DataLoader(self.sets["val"], batch_size=8)

    def test_dataloader(self):
        return DataLoader(self.sets["test"], batch_size=8)


def frozen_model(x: torch.Tensor) -> SoftmaxRegression:
    """Softmax regression that answers 0 for every input, with losses that differ from batch
    to batch; its learning rate is too small to change either."""
    torch.manual_seed(0)
    model = SoftmaxRegression([4], 3, optimizer=partial(torch.optim.SGD, lr=1e-12))
    with torch.no_grad():
        model.linear.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))
    assert (model(x).argmax(1) == 0).all()
    return model


def quiet_trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, log_every_n_steps=1, **kwargs)  # fmt: skip


def test_each_stage_counts_only_its_own_batches():
    x = torch.randn(32, 4)
    model, data = frozen_model(x), KnownBatches(x)
    trainer = quiet_trainer(max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=data)
    fitted = dict(trainer.callback_metrics)
    trainer.test(model, datamodule=data)
    assert fitted["train/acc"].item() == 1.0
    assert fitted["val/acc"].item() == 0.0
    assert trainer.callback_metrics["test/acc"].item() == 0.5


def test_train_loss_epoch_is_the_mean_of_the_epochs_batch_losses():
    x = torch.randn(32, 4)
    model, data = frozen_model(x), KnownBatches(x)
    trainer = quiet_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    with torch.no_grad():
        losses = [F.cross_entropy(model(xb), yb) for xb, yb in data.train_dataloader()]
    assert torch.stack(losses).std() > 1e-3  # four different batch losses: not any one of them
    expected = torch.stack(losses).mean().item()
    assert trainer.callback_metrics["train/loss_epoch"].item() == pytest.approx(expected, abs=1e-5)


class ScrambleAtEpoch(Callback):
    """Replace the weights with noise when `epoch` starts: that epoch ends worse than the one
    before, so the best checkpoint is no longer the final weights."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                for parameter in pl_module.parameters():
                    parameter.normal_(0, 5.0)


def test_testing_uses_the_best_checkpoint_not_the_final_weights(mnist_dir, tmp_path):
    scramble = ["+callbacks.scramble._target_=tests.test_metrics.ScrambleAtEpoch",
                "+callbacks.scramble.epoch=2"]  # fmt: skip
    overrides = ["trainer.max_epochs=3", "trainer.limit_train_batches=10", *scramble, *QUIET]
    metrics = train(compose_config(tmp_path / "train", overrides))
    val_acc = [value for _, value in scalars(tmp_path / "train")["val/acc"]]
    assert val_acc[2] < val_acc[1] - 0.1  # the last epoch is clearly the worst
    (best,) = (tmp_path / "train" / "checkpoints").glob("epoch*.ckpt")
    assert best.name.startswith("epoch001")
    tested = {}
    for name, ckpt in (("best", best), ("final", tmp_path / "train" / "checkpoints" / "last.ckpt")):
        eval_cfg = compose_config(tmp_path / name, [f"ckpt_path={ckpt}"], config_name="eval")
        tested[name] = evaluate(eval_cfg)["test/acc"]
    assert metrics["test/acc"] == tested["best"] and tested["final"] < tested["best"] - 0.1


def test_char_lm_learning_rate_follows_its_per_step_cosine(tmp_path):
    """char_lm decays lr with a cosine over trainer.max_steps, stepped every optimizer step."""
    overrides = ["experiment=char_lm", "trainer.max_steps=24", "trainer.val_check_interval=12",
                 "trainer.limit_val_batches=1", "test=false", "model.hidden_size=16",
                 "trainer.log_every_n_steps=4", "callbacks.lr_monitor.logging_interval=step",
                 "~callbacks.text_sample", *QUIET]  # fmt: skip
    train(compose_config(tmp_path, overrides))
    logged = scalars(tmp_path)["lr-Adam"]
    assert len(logged) >= 5
    for step, lr in logged:
        expected = 0.003 * (1 + math.cos(math.pi * step / 24)) / 2
        assert lr == pytest.approx(expected, rel=1e-5, abs=1e-9), step
