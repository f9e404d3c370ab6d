"""`make course`: the runner's checks, and (slow) the whole fast budget end to end."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from dl101 import PROJECT_ROOT
from dl101.course.sections import SECTIONS, labels
from tests.test_report import assert_sane_png


def course(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DL101_ROOT": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "dl101.course", *args],
                          capture_output=True, text=True, env=env, timeout=900)  # fmt: skip


def test_every_experiments_section_label_is_a_section_of_the_course():
    """ "III B/F" names III B and III F: each a section of the course's table of contents; the
    sections whose numbers or lessons the course shows with code all have their experiment."""
    budget = OmegaConf.load(PROJECT_ROOT / "conf" / "budget" / "full.yaml")
    named = [label for spec in budget.experiments.values() for label in labels(spec.section)]
    assert set(named) <= set(SECTIONS), sorted(set(named) - set(SECTIONS))
    assert {"II A", "II B", "II C", "III A", "III E", "III F", "IV E", "V C", "V D"} <= set(named)


def test_unknown_experiment_is_refused_with_the_known_ones(tmp_path):
    result = course("only=[logreg,nope]", f"log_dir={tmp_path}", f"out_dir={tmp_path}")
    assert result.returncode != 0
    assert "only=['logreg', 'nope']: unknown ['nope']; known: ['linear_regression'" in result.stderr
    assert not any(tmp_path.iterdir())  # refused before anything ran


def test_missing_runs_dir_is_refused(tmp_path):
    result = course(f"runs_dir={tmp_path / 'none'}", f"out_dir={tmp_path}")
    assert result.returncode != 0 and "no such folder" in result.stderr


@pytest.mark.slow
def test_fast_budget_reproduces_every_row_and_figure(mnist_dir, tmp_path):
    """`make course FAST=1`, into a temporary folder."""
    result = course("budget=fast", f"log_dir={tmp_path / 'logs'}", f"out_dir={tmp_path}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = (tmp_path / "course.md").read_text()
    sections = ("| II", "| III", "| IV", "| V")
    rows = [line for line in report.splitlines() if line.startswith(sections)]
    rows = [line for line in rows if line.count(" | ") >= 5]  # the course-vs-ours table
    budget = OmegaConf.load(PROJECT_ROOT / "conf" / "budget" / "full.yaml")
    assert len(rows) == sum(len(spec.rows) for spec in budget.experiments.values())
    not_run = [line for line in rows if " | not run | " in line]
    # the fast budget trains the course RNN for 2 of its 10 epochs: epochs 3..10 are not run
    assert len(not_run) == 8 and all("training accuracy, epoch" in line for line in not_run)
    figures = re.findall(r"!\[[^]]*\]\(figures/([^)]+)\)", report)
    expected = {"logreg_curves.png", "regularization.png", "regularization_curves.png",
                "gradient_norms.png", "cnn_feature_maps.png", "rnn_curves.png",
                "rnn_test_predictions.png", "char_lm_perplexity.png", "confusion.png"}  # fmt: skip
    assert expected <= set(figures)
    for name in figures:
        assert_sane_png(tmp_path / "figures" / name)
    assert "### A sample from the language model" in report


def test_the_course_report_replaces_its_own_figures_and_keeps_the_pages_beside_them(tmp_path):
    """docs/course/ holds the report's figures and the notebooks' exported pages: rewriting the
    report removes its stale PNGs only."""
    from dl101.course.report import write_course_report

    figures = tmp_path / "course"
    (figures / "01_linear_networks_files").mkdir(parents=True)
    kept = [figures / "01_linear_networks.md", figures / "01_linear_networks_files" / "a.png"]
    for path in kept:
        path.write_text("exported")
    (figures / "stale.png").write_text("an old figure")
    runs = tmp_path / "runs"
    runs.mkdir()
    write_course_report(runs, {}, "fast", {}, tmp_path, "course")
    assert all(path.is_file() for path in kept) and not (figures / "stale.png").exists()
