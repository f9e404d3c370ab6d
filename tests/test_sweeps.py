"""Multirun presets run as a user types them, with tiny limits, and their reports."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.helpers import run_module, scalars

VARIANTS = ("baseline", "weight_decay", "dropout", "augmentation")


def regularization_sweep_to(sweep_dir, *overrides: str):
    return run_module(
        "dl101.train",
        "sweep=regularization",
        "seed=1,2",
        "trainer.max_steps=20",
        f"hydra.sweep.dir={sweep_dir}",
        *overrides,
    )


def test_regularization_sweep_trains_stacked_as_separate_jobs_would(regularization_sweep, tmp_path):
    """Its 8 jobs train as one stacked model, each still its own run: a folder named by its
    values, the tags and steps a separate job writes; where nothing is random in training
    (baseline, weight decay) the values of a separate job, up to float summation order; dropout
    masks and augmentation draws are the group's own (tests/test_stacked.py compares them in
    distribution)."""
    sweep_dir, stacked = regularization_sweep
    run_module(  # seed 1 of each variant, one job after another
        "dl101.train", "sweep=regularization", "seed=1", "trainer.max_steps=20",
        "hydra/launcher=basic", "threads=1", f"hydra.sweep.dir={tmp_path}",
    )  # fmt: skip
    # Every job stacked (in groups of 4 on two cores: one per worker process).
    grouping = r"Stacked launcher: 8 jobs -> \d+ stacked groups? of ([\d, ]+)(.*)"
    line = re.search(grouping, stacked.stdout)
    assert line and sum(map(int, line[1].split(", "))) == 8 and "alone" not in line[2], line
    jobs = sorted(p.name for p in sweep_dir.iterdir() if (p / ".hydra").is_dir())
    assert jobs == [f"regularization={r},seed={s}" for r in sorted(VARIANTS) for s in (1, 2)]
    for job in (job for job in jobs if job.endswith("seed=1")):
        together, alone = scalars(sweep_dir / job), scalars(tmp_path / job)
        assert set(together) == set(alone), job
        for tag, curve in alone.items():
            assert [s for s, _ in together[tag]] == [s for s, _ in curve], (job, tag)
            deterministic = job.startswith(("regularization=baseline", "regularization=weight"))
            if deterministic and not tag.startswith("stats/"):
                expected = pytest.approx([v for _, v in curve], rel=1e-5, abs=1e-6)
                assert [v for _, v in together[tag]] == expected, (job, tag)


def test_the_sweep_ends_with_its_seed_averaged_table(regularization_sweep):
    """No report command: the multirun prints and writes its summary itself."""
    sweep_dir, result = regularization_sweep
    for variant in VARIANTS:
        assert f"│ {variant} " in result.stdout
    assert "0.5246" in result.stdout and "0.6088" in result.stdout  # the course's numbers
    table = (sweep_dir / "report.md").read_text()
    assert "val/acc vs baseline" in table and table.count("\n| ") == 5  # header + 4 variants
    rows = {row.split(" | ")[0].strip("| "): row for row in table.splitlines()[4:]}
    assert list(rows) == list(VARIANTS)  # in the sweep's order: baseline is the reference
    assert (sweep_dir / "report.csv").is_file()


def test_a_crashed_job_is_listed_and_the_summary_still_comes(mnist_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dl101.train", "-m", "model=mlp", "model.dropout=1.5,0.2",
         "debug=limit", "callbacks.progress_bar.refresh_rate=0", f"hydra.sweep.dir={tmp_path}"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1  # the command fails, after the other job and the summary
    assert "1 of 2 sweep jobs failed" in result.stderr
    assert "must be in [0, 1)" in (tmp_path / "dropout=1.5" / "FAILED").read_text()
    assert 0 < scalars(tmp_path / "dropout=0.2")["test/acc"][-1][1] <= 1
    table = (tmp_path / "report.md").read_text()
    assert "| dropout=1.5 | 1.5 |" in table and "InstantiationException" in table


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
    table = (tmp_path / "report.md").read_text()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    header, _, *rows = cells
    verdicts = {row[0]: row[header.index("gradients at init")] for row in rows}
    assert verdicts == {"sigmoid / kaiming": "vanishing", "relu / kaiming": "healthy"}


def test_cnn_sweep_reports_accuracy_parameters_and_time(mnist_dir, tmp_path):
    run_module(
        "dl101.train",
        "sweep=cnn",
        "data.train_subset=512",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=4",
        "trainer.limit_test_batches=4",
        "callbacks.progress_bar.refresh_rate=0",
        f"hydra.sweep.dir={tmp_path}",
    )
    run_module("dl101.report", str(tmp_path))
    table = (tmp_path / "report.md").read_text()
    assert "stats/params" in table and "stats/fit_seconds" in table and "test/acc" in table
    for variant in ("same_maxpool", "valid_maxpool", "same_avgpool", "same_stride2"):
        assert f"| {variant} | 1 |" in table
