"""Multirun presets run as a user types them, with tiny limits, and their reports."""

from __future__ import annotations

import os

from tests.helpers import run_module, scalars


def regularization_sweep(sweep_dir, *overrides: str):
    return run_module(
        "dl101.train",
        "sweep=regularization",
        "seed=1,2",
        "trainer.max_steps=20",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    )


def test_regularization_sweep_runs_side_by_side_as_a_sequential_one_would(mnist_dir, tmp_path):
    """Its jobs run two at once, one torch thread each, and log exactly what a sequential
    1-thread sweep logs."""
    side_by_side = regularization_sweep(tmp_path / "par")
    regularization_sweep(tmp_path / "seq", "hydra/launcher=basic", "threads=1")
    assert "Joblib.Parallel(n_jobs=-1" in side_by_side.stdout + side_by_side.stderr
    logs = [(tmp_path / "par" / str(job) / "train.log").read_text() for job in range(8)]
    cores = os.cpu_count()
    side = f"torch threads: 1 ({cores} sweep jobs side by side on {cores} cores)"
    assert all(side in log for log in logs)
    for job in map(str, range(8)):
        parallel, sequential = scalars(tmp_path / "par" / job), scalars(tmp_path / "seq" / job)
        for tag in ("train/loss", "train_eval/acc", "val/acc", "val/loss", "test/acc"):
            assert parallel[tag] == sequential[tag], (job, tag)


def test_regularization_sweep_prints_the_seed_averaged_table(mnist_dir, tmp_path):
    regularization_sweep(tmp_path, "callbacks.progress_bar.refresh_rate=0")
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
