"""Training and evaluation end to end: in-process through `train()`, and as a user types it."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from dl101.evaluate import evaluate
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, run_module, scalars


def test_fast_dev_run_fits_and_tests(mnist_dir, tmp_path):
    metrics = train(compose_config(tmp_path, ["debug=fast_dev_run", *QUIET]))
    assert {"train/loss", "test/acc"} <= metrics.keys()


def test_one_epoch_learns_and_logs_to_tensorboard(mnist_dir, tmp_path):
    cfg = compose_config(tmp_path, ["trainer.max_epochs=1", *QUIET])
    metrics = train(cfg)
    assert metrics["test/acc"] > 0.85  # chance is 0.10
    logged = scalars(tmp_path)
    assert {"train/loss", "train/acc", "val/acc", "val/acc_best", "test/acc"} <= logged.keys()
    assert logged["test/acc"][-1][1] == pytest.approx(metrics["test/acc"])
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_hparams_tab_lists_config_and_real_metrics(mnist_dir, tmp_path):
    train(compose_config(tmp_path, ["debug=limit", "model.optimizer.lr=0.02", *QUIET]))
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    content = accumulator.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["lr"].number_value == 0.02
    assert hparams["model"].string_value == "SoftmaxRegression"  # a class name, not a path
    assert hparams["optimizer"].string_value == "SGD" and hparams["seed"].number_value == 42
    values = [v.string_value for v in hparams.values()]
    assert not any("_target_" in key or "/" in key for key in hparams)
    assert not any("/" in value for value in values)  # no paths of this machine
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    declared = {info.name.tag for info in experiment.metric_infos}
    assert {"val/acc", "test/acc"} <= declared
    # No placeholder values: test/acc holds only the real test result.
    test_acc = scalars(tmp_path)["test/acc"]
    assert len(test_acc) == 1 and test_acc[0][0] > 0


def test_evaluate_reproduces_the_runs_test_accuracy(mnist_dir, tmp_path):
    cfg = compose_config(tmp_path / "train", ["trainer.max_epochs=1", *QUIET])
    trained = train(cfg)
    best = next((tmp_path / "train" / "checkpoints").glob("epoch*.ckpt"))
    eval_cfg = compose_config(tmp_path / "eval", [f"ckpt_path={best}"], config_name="eval")
    evaluated = evaluate(eval_cfg)
    assert evaluated["test/acc"] == trained["test/acc"]


@pytest.mark.parametrize(
    ("ckpt", "message"),
    [("missing.ckpt", "no such file"), ("not_a.ckpt", "not a dl101/Lightning checkpoint")],
)
def test_evaluate_refuses_a_bad_checkpoint_path(tmp_path, ckpt, message):
    (tmp_path / "not_a.ckpt").write_text("hello")
    eval_cfg = compose_config(tmp_path, [f"ckpt_path={tmp_path / ckpt}"], config_name="eval")
    with pytest.raises((FileNotFoundError, ValueError), match=message):
        evaluate(eval_cfg)


def test_course_logreg_logs_the_test_curve(mnist_dir, tmp_path):
    overrides = [
        "experiment=course_logreg",
        "trainer.max_steps=40",
        "trainer.val_check_interval=20",
    ]
    metrics = train(compose_config(tmp_path, [*overrides, *QUIET]))
    curve = scalars(tmp_path)["test_curve/acc"]
    assert [step for step, _ in curve] == [20, 40]
    assert curve[-1][1] == pytest.approx(metrics["test/acc"], abs=1e-6)  # best = last here


@pytest.mark.slow  # launcher/subprocess plumbing: a dozen seconds
def test_multirun_from_the_command_line(mnist_dir, tmp_path):
    run_module("dl101.train", "-m", "model.optimizer.lr=0.01,0.1", "trainer.max_steps=20",
               f"paths.log_dir={tmp_path}")  # fmt: skip
    (sweep,) = (tmp_path / "train" / "multiruns" / "default").iterdir()
    jobs = sorted(p for p in sweep.iterdir() if (p / ".hydra").is_dir())
    assert [job.name for job in jobs] == ["lr=0.01", "lr=0.1"]  # named by what the sweep varies
    for job in jobs:
        assert list(job.glob("events.out.tfevents.*"))  # the TensorBoard run is the job's folder
        assert "train/acc" in scalars(job)


def test_a_run_stopped_mid_epoch_validates_its_final_weights(mnist_dir, tmp_path):
    """max_steps ends this run at step 7 of a 20-step first epoch: it still has val metrics,
    val/acc_best and a best checkpoint, which the test phase uses."""
    cfg = compose_config(tmp_path, ["trainer.max_steps=7", "data.train_subset=2560", *QUIET])
    metrics = train(cfg)
    logged = scalars(tmp_path)
    # one validation, logged where Lightning logs a validation after training step 7 (at 6)
    assert [step for step, _ in logged["val/acc"]] == [6]
    assert metrics["val/acc_best"] == pytest.approx(logged["val/acc"][-1][1])
    (best,) = (tmp_path / "checkpoints").glob("epoch*.ckpt")
    assert best.name == "epoch000-step000007.ckpt"
    assert metrics["test/acc"] > 0.3  # 7 steps of softmax regression: well above chance
