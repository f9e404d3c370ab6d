"""What a user sees in TensorBoard after a sweep, asked of TensorBoard's own server over HTTP:
runs named by what they vary, seed-mean runs, HPARAMS led by the swept keys, train and val
overlaid, the summary's table and chart."""

from __future__ import annotations

import re
import shutil
import statistics
import urllib.parse

import pytest
from scripts.board import VIEWS, get_json, take_screenshots, tensorboard

from tests.test_report import png_size
from tests.test_sweeps import VARIANTS

JOBS = {f"regularization={v},seed={s}" for v in VARIANTS for s in (1, 2)}
MEANS = {f"mean/regularization={v}" for v in VARIANTS}


@pytest.fixture(scope="module")
def board(regularization_sweep):
    sweep_dir, _ = regularization_sweep

    def loaded(url: str) -> bool:  # every run listed, and the last one's scalars read
        tags = get_json(url, "/data/plugin/scalars/tags")
        return tags.keys() >= JOBS | MEANS and all("val/acc" in tags[run] for run in JOBS | MEANS)

    with tensorboard(sweep_dir, loaded) as url:
        yield url


def scalars(url: str, run: str, tag: str) -> list[tuple[int, float]]:
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    return [
        (step, value) for _, step, value in get_json(url, f"/data/plugin/scalars/scalars?{query}")
    ]


def test_runs_are_named_by_the_swept_values(board):
    assert set(get_json(board, "/data/runs")) == JOBS | MEANS | {"summary"}


def test_mean_runs_end_at_the_mean_of_their_jobs(board):
    for variant in VARIANTS:
        for tag in ("val/acc", "train_eval/acc", "val/loss"):
            finals = [scalars(board, f"regularization={variant},seed={s}", tag)[-1] for s in (1, 2)]
            step, mean = scalars(board, f"mean/regularization={variant}", tag)[-1]
            assert step == finals[0][0] == finals[1][0]
            assert mean == pytest.approx(statistics.mean(v for _, v in finals), abs=1e-6)
            low, high = (scalars(board, f"mean/regularization={variant}", f"spread/{tag}/{k}")
                         for k in ("min", "max"))  # fmt: skip
            assert low[-1][1] == pytest.approx(min(v for _, v in finals), abs=1e-6)
            assert high[-1][1] == pytest.approx(max(v for _, v in finals), abs=1e-6)


def test_hparams_start_with_what_differs_between_jobs_and_hold_no_target_or_path(board):
    """The swept keys and what they set (`regularization` sets dropout and weight decay) are
    marked as differing, so HPARAMS shows them first; the judged metrics lead the metrics."""
    experiment = get_json(board, "/data/plugin/hparams/experiment", {"experimentName": ""})
    names = [info["name"] for info in experiment["hparamInfos"]]
    differing = [info["name"] for info in experiment["hparamInfos"] if info.get("differs")]
    assert set(differing) == {"regularization", "seed", "weight_decay", "dropout"}
    assert set(names[:4]) == set(differing)
    metrics = [info["name"]["tag"] for info in experiment["metricInfos"]]
    assert metrics[:2] == ["train_eval/acc", "val/acc"] and "test/acc" in metrics
    assert {"model", "optimizer", "lr", "batch_size", "experiment_name"} <= set(names)
    assert len(names) <= 20  # a short, curated list
    assert not any("_target_" in name or "/" in name for name in names)
    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]
    request = {"experimentName": "", "startIndex": 0, "sliceSize": 100, "allowedStatuses": statuses}
    sessions = get_json(board, "/data/plugin/hparams/session_groups", request)["sessionGroups"]
    assert {group["name"] for group in sessions} == JOBS  # the mean runs hold no hparams
    for group in sessions:
        hparams = group["hparams"]
        assert (
            group["name"] == f"regularization={hparams['regularization']},seed={hparams['seed']:g}"
        )
        assert (hparams["model"], hparams["optimizer"]) == ("MLP", "SGD")  # classes, not paths
        assert not any("/" in str(value) for value in hparams.values())  # no paths of this machine
        metrics = {m["name"]["tag"] for m in group["metricValues"]}
        assert {"val/acc", "val/acc_best", "test/acc", "train_eval/acc"} <= metrics


def test_custom_scalars_overlay_train_and_val(board):
    layout = get_json(board, "/data/plugin/custom_scalars/layout")
    charts = {chart["title"]: chart for c in layout["category"] for chart in c["chart"]}
    (accuracy,) = charts["accuracy"]["multiline"]["tag"]
    assert re.fullmatch(accuracy, "train_eval/acc") and re.fullmatch(accuracy, "val/acc")
    (loss,) = charts["loss"]["multiline"]["tag"]
    assert re.fullmatch(loss, "train/loss_epoch") and re.fullmatch(loss, "val/loss")
    margin = charts["val/acc"]["margin"]["series"][0]
    assert margin == {"value": "val/acc", "lower": "spread/val/acc/min",
                      "upper": "spread/val/acc/max"}  # fmt: skip


def test_summary_run_holds_the_table_and_the_bar_chart(board):
    (tag,) = get_json(board, "/data/plugin/text/tags")["summary"]
    query = urllib.parse.urlencode({"run": "summary", "tag": tag})
    (shown,) = get_json(board, f"/data/plugin/text/text?{query}")
    assert "<table>" in shown["text"]  # rendered as a table
    for cell in (*VARIANTS, "0.5246", "0.6088", "val/acc vs baseline"):
        assert cell in shown["text"]
    images = get_json(board, "/data/plugin/images/tags")["summary"]
    assert list(images) == ["summary/val/acc"]


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="no chromium (apt-get install chromium)")
def test_screenshots_of_what_users_see(regularization_sweep, tmp_path):
    """`make screenshots` on a small sweep: a PNG of the browser's page for every view."""
    sweep_dir, _ = regularization_sweep
    paths = take_screenshots(sweep_dir, tmp_path)
    assert [p.name for p in paths] == list(VIEWS)
    for path, view in zip(paths, VIEWS.values(), strict=True):
        left, top, right, bottom = view.crop
        assert png_size(path) == (round(view.scale * right) - round(view.scale * left),
                                  round(view.scale * bottom) - round(view.scale * top))  # fmt: skip
        assert path.stat().st_size > 30_000  # a drawn page, not a blank one
