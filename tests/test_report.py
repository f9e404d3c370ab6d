"""`dl101-report` on a real multirun, and the course report's figures."""

from __future__ import annotations

import csv
import statistics
import struct
from pathlib import Path

import pytest

from dl101.course import figures
from dl101.evaluate import evaluate
from dl101.results.runs import Run
from tests.helpers import compose_config, run_module, scalars
from tests.test_data import TEST_COUNTS


def final_scalars(run_dir: Path) -> dict[str, float]:
    return {tag: points[-1][1] for tag, points in scalars(run_dir).items()}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG header; refuses anything that is not a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def assert_sane_png(path: Path) -> None:
    width, height = png_size(path)
    assert 200 <= width <= 3000 and 150 <= height <= 3000, (path, width, height)
    assert path.stat().st_size > 5_000  # something is drawn


@pytest.fixture(scope="module")
def lr_sweep(tmp_path_factory, mnist_dir) -> Path:
    """A real two-job sweep over the learning rate, a few steps each."""
    sweep_dir = tmp_path_factory.mktemp("sweep")
    run_module("dl101.train", "-m", "model.optimizer.lr=0.001,0.5", "debug=limit",
               "callbacks.progress_bar.refresh_rate=0", f"hydra.sweep.dir={sweep_dir}")  # fmt: skip
    return sweep_dir


def test_report_has_one_row_per_job_with_its_hparams_and_logged_values(lr_sweep):
    printed = run_module("dl101.report", str(lr_sweep)).stdout
    assert "2 runs, best val/acc_best first" in printed  # the rich table
    with (lr_sweep / "report.csv").open() as f:
        header, *rows = list(csv.reader(f))
    assert len(rows) == 2 and header[:2] == ["job", "model.optimizer.lr"]
    finals = {row[0]: final_scalars(lr_sweep / row[0]) for row in rows}
    column = header.index("val/acc_best final")
    for row in rows:
        lr = {"lr=0.001": "0.001", "lr=0.5": "0.5"}[row[0]]
        assert row[1] == lr
        assert float(row[column]) == pytest.approx(finals[row[0]]["val/acc_best"], abs=1e-4)
        test_acc = float(row[header.index("test/acc final")])
        assert test_acc == pytest.approx(finals[row[0]]["test/acc"], abs=1e-4)
    best = [float(row[column]) for row in rows]
    assert best == sorted(best, reverse=True)  # sorted by the sweep's metric, best first
    assert (lr_sweep / "report.md").read_text().count("\n| ") == 3  # header + 2 jobs


def test_confusion_matrix_of_a_real_checkpoint(lr_sweep, tmp_path):
    """Its counts cover the 10,000 test digits, true digits down the rows (each row sums to
    that digit's count in the test set), and their trace is the checkpoint's test accuracy."""
    checkpoint = next((lr_sweep / "lr=0.001" / "checkpoints").glob("epoch*.ckpt"))
    counts = figures.confusion_counts(checkpoint)
    assert counts.sum() == 10_000
    assert counts.sum(1).tolist() == TEST_COUNTS
    override = f'ckpt_path="{checkpoint}"'  # quoted: the job's folder name has = and ,
    eval_cfg = compose_config(tmp_path / "eval", [override], config_name="eval")
    test_acc = evaluate(eval_cfg)["test/acc"]
    assert counts.diag().sum().item() / 10_000 == pytest.approx(test_acc, abs=1e-6)
    assert_sane_png(figures.save(figures.confusion_matrix(counts, "test"), tmp_path / "c.png"))


def synthetic_run(name: str, config: dict, events: dict) -> Run:
    return Run(Path(name), config, [], events)


def test_every_curve_figure_is_a_sane_png(tmp_path):
    steps = range(0, 500, 50)
    logreg = [synthetic_run(str(seed), {}, {
        "train/loss": [(s, 2.0 - s / 400 + seed / 10) for s in steps],
        "test_curve/acc": [(s, 0.6 + s / 2000) for s in steps[1:]],
    }) for seed in (1, 2)]  # fmt: skip
    regularization = [synthetic_run(f"{name}{seed}", {"regularization_name": name}, {
        "train_eval/acc": [(s, min(1.0, s / 300)) for s in steps],
        "val/acc": [(s, 0.5 + seed / 100) for s in steps],
    }) for name in ("baseline", "dropout") for seed in (1, 2)]  # fmt: skip
    stability = [synthetic_run(act, {"model": {"activation": act, "init": "xavier"}}, {
        f"grad_norm/layer{i:02d}": [(0, scale**i)] for i in range(1, 10)
    }) for act, scale in (("sigmoid", 0.3), ("relu", 1.1))]  # fmt: skip
    per_epoch = range(10)
    rnn = [synthetic_run("rnn", {}, {"train/acc": [(s, 0.9 + s / 1e3) for s in per_epoch],
                                     "val/acc": [(s, 0.95) for s in per_epoch]})]  # fmt: skip
    ppl = [(s, 80 / (1 + s / 10)) for s in steps]
    lm = [synthetic_run("lm", {}, {"train/ppl": ppl, "val/ppl": ppl[::2]})]
    drawn = [
        figures.logreg_curves(logreg, {500: 0.67}),
        figures.regularization_curves(regularization),
        figures.regularization_bars(regularization, {"baseline": 0.5246}),
        figures.gradient_norms(stability),
        figures.rnn_curves(rnn, [0.906, 0.938]),
        figures.perplexity_curves(lm, 80),
    ]
    for index, figure in enumerate(drawn):
        assert_sane_png(figures.save(figure, tmp_path / f"{index}.png"))
    # What is plotted is what the runs logged: seed means, per step
    loss_ax, acc_ax = drawn[0].axes
    assert plotted(loss_ax, 0) == means(logreg, "train/loss")
    assert plotted(acc_ax, 0) == means(logreg, "test_curve/acc")
    assert plotted(acc_ax, 1) == ([500], [0.67])  # the course's points
    baseline_ax = drawn[1].axes[0]
    baseline = [run for run in regularization if run.lookup("regularization_name") == "baseline"]
    assert plotted(baseline_ax, 0) == means(baseline, "train_eval/acc")
    assert plotted(baseline_ax, 1) == means(baseline, "val/acc")
    heights = [bar.get_height() for bar in drawn[2].axes[0].patches]
    assert heights == pytest.approx([0.515, 0.515])  # final val/acc, mean of 2 seeds
    norms = [line.get_ydata().tolist() for line in drawn[3].axes[0].lines]
    assert norms == [[0.3**i for i in range(1, 10)], [1.1**i for i in range(1, 10)]]


def plotted(ax, line: int) -> tuple[list, list]:
    return list(ax.lines[line].get_xdata()), list(ax.lines[line].get_ydata())


def means(runs: list[Run], tag: str) -> tuple[list, list]:
    """Step by step mean over the runs, computed here, not by dl101."""
    steps = [step for step, _ in runs[0].events[tag]]
    return steps, [statistics.mean(dict(run.events[tag])[s] for run in runs) for s in steps]
