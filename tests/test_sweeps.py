"""Multirun presets run as a user types them, with tiny limits, and their reports."""

from __future__ import annotations

from tests.helpers import run_module


def test_regularization_sweep_prints_the_seed_averaged_table(mnist_dir, tmp_path):
    run_module(
        "dl101.train",
        "sweep=regularization",
        "seed=1,2",
        "trainer.max_steps=20",
        "callbacks.progress_bar.refresh_rate=0",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.isdigit()) == list("01234567")
    report = run_module("dl101.report", str(tmp_path)).stdout
    for variant in ("baseline", "weight_decay", "dropout", "augmentation"):
        assert variant in report
    assert "0.5246" in report and "0.6088" in report  # the course's numbers beside ours
    table = (tmp_path / "report.md").read_text()
    assert "val/acc vs baseline" in table and table.count("\n| ") == 5  # header + 4 variants


def test_stability_sweep_reports_gradient_flow(mnist_dir, tmp_path):
    run_module(
        "dl101.train",
        "sweep=stability",
        "model.activation=sigmoid,relu",
        "model.init=kaiming",
        "trainer.max_steps=2",
        "data.train_subset=256",
        "callbacks.progress_bar.refresh_rate=0",
        f"hydra.sweep.dir={tmp_path}",
    )
    run_module("dl101.report", str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "| sigmoid / kaiming | 1 |" in table and "vanishing" in table
    assert "| relu / kaiming | 1 |" in table and "healthy" in table


def test_cnn_sweep_reports_accuracy_parameters_and_time(mnist_dir, tmp_path):
    run_module(
        "dl101.train",
        "sweep=cnn",
        "data.train_subset=512",
        "trainer.max_epochs=1",
        "callbacks.progress_bar.refresh_rate=0",
        f"hydra.sweep.dir={tmp_path}",
    )
    run_module("dl101.report", str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "stats/params" in table and "stats/fit_seconds" in table and "test/acc" in table
    for variant in ("same_maxpool", "valid_maxpool", "same_avgpool", "same_stride2"):
        assert f"| {variant} | 1 |" in table
