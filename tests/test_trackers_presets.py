"""Options beside the defaults: MLflow's and Weights & Biases' trackers next to TensorBoard,
early stopping, the anomaly-detection debug preset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from dl101.run.training import train
from tests.helpers import QUIET, compose_config, scalars

SHORT = ["debug=limit", "trainer.max_epochs=3", *QUIET]


def test_mlflow_holds_the_hparams_and_metrics_tensorboard_shows(mnist_dir, tmp_path, monkeypatch):
    cfg = compose_config(tmp_path / "run", ["logger=mlflow", "model.optimizer.lr=0.05", *SHORT])
    train(cfg)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow's own client reads the store
    client = MlflowClient(tracking_uri=f"file:{cfg.paths.log_dir}/mlruns")
    experiment = client.get_experiment_by_name(cfg.experiment_name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["lr"] == "0.05" and run.data.params["model"] == "SoftmaxRegression"
    assert run.data.tags["run_dir"] == str(tmp_path / "run")
    board = scalars(tmp_path / "run")
    assert {"train/loss_epoch", "val/acc", "test/acc"} <= set(board) <= set(run.data.metrics)
    for tag in board:
        history = client.get_metric_history(run.info.run_id, tag)
        logged = sorted((m.step, m.value) for m in history)
        assert [s for s, _ in logged] == [s for s, _ in board[tag]], tag
        assert [v for _, v in logged] == pytest.approx([v for _, v in board[tag]], abs=1e-6), tag


def test_wandb_offline_holds_the_hparams_and_final_metrics_tensorboard_shows(
    mnist_dir, tmp_path, monkeypatch
):
    """Offline (nothing leaves the machine), read back by wandb's own reader of its files."""
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = compose_config(tmp_path / "run", ["logger=wandb", "model.optimizer.lr=0.05", *SHORT])
    train(cfg)
    (offline,) = (tmp_path / "run" / "wandb").glob("offline-run-*")
    read = subprocess.run(
        [str(Path(sys.executable).parent / "wandb"), "leet", "inspect", "--summary", "--json",
         str(offline)], capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    run = json.loads(read.stdout)
    assert run["state"] == "finished" and run["project"] == "dl101"
    assert run["config"]["lr"] == 0.05 and run["config"]["model"] == "SoftmaxRegression"
    board = scalars(tmp_path / "run")
    for tag in ("train/loss_epoch", "val/acc", "test/acc"):
        assert run["summary"][tag] == pytest.approx(board[tag][-1][1], abs=1e-6), tag


def test_early_stopping_ends_a_run_that_stopped_improving(mnist_dir, tmp_path):
    # No epoch can improve val/acc by 0.5: stopped after 1 + patience validations of 10.
    overrides = ["callbacks=early_stopping", "callbacks.early_stopping.patience=1",
                 "callbacks.early_stopping.min_delta=0.5", "debug=limit",
                 "trainer.max_epochs=10", *QUIET]  # fmt: skip
    metrics = train(compose_config(tmp_path, overrides))
    assert [step for step, _ in scalars(tmp_path)["val/acc"]] == [4, 9]  # 5 steps an epoch
    assert "test/acc" in metrics and len(list(tmp_path.glob("checkpoints/epoch*.ckpt"))) == 1


def test_debug_anomaly_names_the_backward_operation_that_made_a_nan(mnist_dir, tmp_path):
    cfg = compose_config(
        tmp_path, ["debug=anomaly", "model=mlp", "model.optimizer.lr=1e12", *QUIET]
    )
    assert cfg.trainer.accelerator == "cpu" and cfg.task_name == "debug"
    with pytest.raises(RuntimeError, match=r"Function '\w+Backward\d*' returned nan values"):
        train(cfg)
    assert not torch.is_anomaly_enabled()  # Lightning's context is left
