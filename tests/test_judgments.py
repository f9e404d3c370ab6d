"""What a summary concludes for the user, tested exactly against numbers computed by hand:
the verdict's columns (tests/test_verdicts.py: Welch's threshold), which value counts as a
metric's best for every family dl101 logs, the order of the jobs, the columns of the group
table, mean ± std, the mean runs' curves, and the gradient-flow regime at its band's edges."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dl101.results.runs import Run, mean_curve, spread
from dl101.results.tables import (
    COMPARED_BY,
    fmt,
    gradient_flow_verdict,
    group_rows,
    grouping,
    job_rows,
    mean_std,
    summary_table,
    verdict,
)

CLASSIFIER = {"directions": {"acc": "max", "acc_best": "max", "loss": "min", "loss_epoch": "min"}}
WELCH = COMPARED_BY  # the verdict column's test, named in its header
LANGUAGE = {"directions": {"ppl": "min", "loss": "min", "loss_epoch": "min"}}
REGRESSION = {"directions": {"mse": "min", "loss": "min", "loss_epoch": "min"}}


def run(name: str, events: dict, config: dict | None = None, judged=CLASSIFIER, **kw) -> Run:
    return Run(Path(name), config or {}, kw.pop("overrides", []), events, judged=judged, **kw)


def test_the_best_value_follows_each_metric_familys_direction():
    tags = ("val/acc", "val/acc_best", "train_eval/acc", "test_curve/acc", "val/loss",
            "train/loss_epoch", "val/mse", "val/ppl", "grad_norm/layer01",
            "stats/fit_seconds")  # fmt: skip
    events = {tag: [(0, 3.0), (1, 1.0), (2, 2.0)] for tag in tags}
    classifier = run("c", events)
    assert classifier.best("val/acc") == classifier.best("train_eval/acc") == 3.0
    assert classifier.best("test_curve/acc") == classifier.best("val/acc_best") == 3.0
    assert classifier.best("val/loss") == classifier.best("train/loss_epoch") == 1.0
    assert classifier.best("grad_norm/layer01") is None  # no direction: no best
    assert classifier.best("stats/fit_seconds") is None
    assert run("l", events, judged=LANGUAGE).best("val/ppl") == 1.0
    assert run("r", events, judged=REGRESSION).best("val/mse") == 1.0
    declared = run("own", {"val/f1": events["val/acc"]}, judged={"directions": {"f1": "max"}})
    assert declared.best("val/f1") == 3.0  # a metric of one's own, judged as its model says
    legacy = run("old", events, judged={})  # a run from before its model declared them
    assert legacy.best("val/ppl") == 1.0 and legacy.best("val/acc") == 3.0
    assert run("empty", {}).best("val/acc") is None


def test_jobs_are_sorted_best_first_in_the_metrics_direction():
    lows = [run(f"j{v}", {"val/ppl": [(0, 9.0), (1, v)]}, judged=LANGUAGE) for v in (5.0, 2.0, 8.0)]
    _, rows = job_rows(lows, ["val/ppl"], sort_by="val/ppl")
    assert [row[0] for row in rows] == ["j2.0", "j5.0", "j8.0"]  # lower perplexity first
    highs = [run(f"j{v}", {"val/acc": [(0, v)]}) for v in (0.5, 0.9, 0.7)]
    _, rows = job_rows(highs, ["val/acc"], sort_by="val/acc")
    assert [row[0] for row in rows] == ["j0.9", "j0.7", "j0.5"]
    missing = [run("none", {}), *highs]
    _, rows = job_rows(missing, ["val/acc"], sort_by="val/acc")
    assert rows[-1][0] == "none"  # a job without the metric comes last
    timed = [run(f"t{v}", {"stats/fit_seconds": [(0, v)]}) for v in (3.0, 1.0)]
    _, rows = job_rows(timed, ["stats/fit_seconds"], sort_by="stats/fit_seconds")
    assert [row[0] for row in rows] == ["t3.0", "t1.0"]  # no direction: the sweep's order


def test_job_rows_hold_each_metrics_final_and_best():
    header, rows = job_rows([run("a", {"val/loss": [(0, 2.0), (1, 1.0), (2, 1.5)]},
                                 overrides=["lr=0.1"])], ["val/loss"])  # fmt: skip
    assert header == ["job", "lr", "val/loss final", "val/loss best"]
    assert rows == [["a", "0.1", "1.5000", "1.0000"]]


def groups(values: dict[str, list[float]], tag: str, judged=CLASSIFIER) -> list[Run]:
    return [
        run(f"{name}{i}", {tag: [(9, v)]}, {"variant": name}, judged=judged)
        for name, finals in values.items()
        for i, v in enumerate(finals)
    ]


def test_group_rows_give_mean_std_and_a_verdict_against_the_first_group():
    runs = groups({"base": [0.5, 0.52, 0.54], "better": [0.6, 0.62, 0.64],
                   "same": [0.5, 0.52, 0.54]}, "val/acc")  # fmt: skip
    header, rows = group_rows(runs, ["val/acc"], ["variant"])
    assert header == ["variant", "runs", "val/acc (mean ± std)", f"val/acc vs base ({WELCH})"]
    assert rows[0] == ["base", "3", "0.5200 ± 0.0200", "reference"]
    # t = 0.1 / sqrt(2 * 0.0004 / 3) = 6.12 at 4 degrees of freedom: p = 0.0036
    assert rows[1] == [
        "better",
        "3",
        "0.6200 ± 0.0200",
        "+0.1000 [+0.0547, +0.1453] p=0.0036: better",
    ]
    assert rows[2][3] == "+0.0000 [-0.0453, +0.0453] p=1: not significant"  # equal, not it


def test_a_lower_is_better_judged_metric_is_called_better_when_it_falls():
    runs = groups({"base": [2.0, 2.1, 2.2], "lower": [1.0, 1.1, 1.2]}, "val/ppl", LANGUAGE)
    _, rows = group_rows(runs, ["val/ppl"], ["variant"])
    assert rows[1][-1].startswith("-1.0000 [") and rows[1][-1].endswith(": better")


def test_a_group_of_one_run_is_too_few_seeds_to_judge_and_single_runs_get_no_column():
    runs = groups({"a": [0.5, 0.6], "b": [0.7]}, "val/acc")
    header, rows = group_rows(runs, ["val/acc"], ["variant"])
    assert header[-1] == f"val/acc vs a ({WELCH})"
    assert rows[1] == ["b", "1", "0.7000", "too few seeds to judge"]
    header, rows = group_rows(groups({"a": [0.5], "b": [0.7]}, "val/acc"), ["val/acc"], ["variant"])
    assert not any("vs" in column for column in header)  # nothing to judge: no column
    assert rows[1] == ["b", "1", "0.7000"]


def test_the_course_column_shows_the_number_of_the_metric_it_is_for():
    runs = groups({"a": [0.5, 0.6]}, "val/acc")
    for r in runs:
        r.config["course_result"] = {"val/acc": 0.5246, "train_eval/acc": 1.0}
    header, rows = group_rows(runs, ["val/acc"], ["variant"])
    assert header[-2] == "course val/acc" and rows[0][-2] == "0.5246"


def test_mean_std_and_number_formats():
    assert mean_std([1.0, 2.0, 3.0]) == "2.0000 ± 1.0000"
    assert mean_std([1.0, 2.0, 3.0], show_n=True) == "2.0000 ± 1.0000 (n=3)"
    assert mean_std([0.25]) == "0.2500" and mean_std([]) == "-"
    assert fmt(114314.0) == "114,314" and fmt(5.4e-7) == "5.4e-07" and fmt(0.0) == "0.0000"
    assert fmt(83813472.5) == "8.38e+07" and fmt(None) == "-" and fmt(0.5, ".2f") == "0.50"
    assert fmt(10000.0) == "10,000" and fmt(10000.5) == "1e+04" and fmt(9999.5) == "9999.5000"
    assert fmt(0.001) == "0.0010" and fmt(0.00099) == "0.00099"


def test_mean_runs_curve_is_the_mean_spread_min_and_max_at_common_steps():
    a = run("a", {"val/acc": [(0, 0.1), (10, 0.5), (20, 0.7)]})
    b = run("b", {"val/acc": [(10, 0.7), (20, 0.9)]})
    curve = mean_curve([a, b], "val/acc")
    assert curve.steps == [10, 20]  # where both logged it
    assert curve.means == pytest.approx([0.6, 0.8])
    assert curve.stds == pytest.approx([math.sqrt(0.02), math.sqrt(0.02)])
    assert (curve.lows, curve.highs) == ([0.5, 0.7], [0.7, 0.9])
    nan = mean_curve([a, run("n", {"val/acc": [(10, float("nan"))]})], "val/acc")
    assert math.isnan(nan.means[0]) and math.isnan(nan.stds[0])  # said, not an error
    assert mean_curve([a, b], "val/loss") == ([], [], [], [], [])  # logged by none of them
    assert spread([1.0, 2.0, 3.0]) == 1.0 and spread([5.0]) == 0.0


def test_gradient_flow_regime_at_the_edges_of_its_band():
    assert gradient_flow_verdict(1.0, 100.0) == "healthy"
    assert gradient_flow_verdict(1.0, 100.01) == "exploding"
    assert gradient_flow_verdict(100.01, 1.0) == "exploding"
    assert gradient_flow_verdict(1.0, 0.01) == "healthy"
    assert gradient_flow_verdict(1.0, 0.0099) == "vanishing"
    assert gradient_flow_verdict(0.0099, 1.0) == "vanishing"
    assert gradient_flow_verdict(float("nan"), 1.0) == "exploding"
    assert gradient_flow_verdict(100.0, 1.0) == "healthy"
    assert gradient_flow_verdict(0.01, 1.0) == gradient_flow_verdict(0.015, 1.0) == "healthy"
    assert gradient_flow_verdict(1.0, 0.0) == "vanishing"  # no gradient at all, not infinite


def test_a_seed_sweep_is_grouped_by_what_else_it_varies():
    runs = [run(f"s{s}", {"val/acc": [(0, 0.5)]}, swept=["lr", "seed"], overrides=["lr=0.1"])
            for s in (1, 2)]  # fmt: skip
    assert grouping(runs) == ["lr"]
    only_seeds = [run("x", {}, swept=["seed"])]
    assert grouping(only_seeds) == ["overrides"]
    assert grouping([run("y", {}, {"report": {"group_by": "variant"}})]) == ["variant"]
    title, header, rows = summary_table(runs)  # judged by test/acc, which they did not log
    assert title == "2 runs by lr: final values"
    assert rows == [["0.1", "2", "0.5000 ± 0.0000", "-", "reference"]]
    assert header[-2:] == ["test/acc (mean ± std)", f"test/acc vs 0.1 ({WELCH})"]


def test_a_metric_without_a_direction_is_said_to_differ_not_to_be_better():
    runs = groups({"base": [1.0, 1.1, 1.2], "slow": [3.0, 3.1, 3.2]}, "stats/fit_seconds")
    _, rows = group_rows(runs, ["stats/fit_seconds"], ["variant"])
    assert rows[1][-1].startswith("+2.0000 [") and rows[1][-1].endswith(": differs")
    assert verdict([3.0, 3.1], [1.0, 1.1], None).endswith("p=0.00125: differs")  # t=28.3, 2 df
    assert verdict([1.0, 1.2], [1.0, 1.2], None).endswith("p=1: not significant")


def test_a_group_whose_seeds_failed_gets_a_count_and_no_verdict():
    runs = groups({"base": [0.5, 0.52], "broken": [0.6], "pair": [0.5, 0.52]}, "val/acc")
    runs += [run("broken1", {}, {"variant": "broken"}, failed="FloatingPointError: NaN loss")]
    header, rows = group_rows(runs, ["val/acc"], ["variant"])
    assert header[-1] == f"val/acc vs base ({WELCH})"
    assert rows[1] == ["broken", "2 (1 failed)", "0.6000", "too few seeds to judge"]
    assert rows[0][1] == "2"
    assert rows[2][-1].endswith("p=1: not significant")  # two seeds each: judged


def test_groups_of_two_keys_are_named_and_headed_by_both():
    runs = [run(f"r{i}", {"val/acc": [(0, 0.5)]}, {"model": {"lr": lr}, "wd": wd})
            for i, (lr, wd) in enumerate([(0.1, 0), (0.1, 0), (0.5, 3), (0.5, 3)])]  # fmt: skip
    header, rows = group_rows(runs, ["val/acc"], ["model.lr", "wd"])
    assert header[0] == "model.lr / wd"
    assert [row[0] for row in rows] == ["0.1 / 0", "0.5 / 3"]


def flow_run(name: str, variant: str, first: float, ratio: float) -> Run:
    events = {"val/acc": [(0, 0.5)], "grad_flow/first_layer_at_init": [(0, first)],
              "grad_flow/first_over_last_at_init": [(0, ratio)]}  # fmt: skip
    return run(name, events, {"variant": variant})


def test_the_gradient_flow_column_names_the_regime_a_groups_seeds_share_or_counts_them():
    runs = [flow_run("h0", "xavier", 1.0, 1.0), flow_run("h1", "xavier", 2.0, 0.5),
            flow_run("e0", "huge", 1e3, 1.0), flow_run("e1", "huge", 1e3, 1.0),
            flow_run("m0", "mixed", 1.0, 1.0), flow_run("m1", "mixed", 1e-4, 1.0),
            flow_run("m2", "mixed", 1e-3, 1.0), run("none", {"val/acc": [(0, 0.5)]},
            {"variant": "unlogged"})]  # fmt: skip
    header, rows = group_rows(runs, ["val/acc"], ["variant"])
    assert header[-1] == "gradients at init"
    assert [row[-1] for row in rows] == ["healthy", "exploding", "vanishing 2, healthy 1", "-"]


def test_job_rows_show_the_swept_keys_and_what_failed_without_its_message():
    ok = run("0", {"val/acc": [(0, 0.9)]}, {"model": {"lr": 0.1}}, swept=["model.lr", "wd"])
    bad = run("1", {}, {"wd": 3}, swept=["model.lr", "wd"], failed="FloatingPointError: NaN at 7")
    header, rows = job_rows([ok, bad], ["val/acc"])
    assert header == ["job", "model.lr", "wd", "val/acc final", "val/acc best", "failed"]
    assert rows == [["0", "0.1", "", "0.9000", "0.9000", ""],
                    ["1", "", "3", "-", "-", "FloatingPointError"]]  # fmt: skip


def test_a_sweep_without_seeds_is_listed_best_optimized_metric_first():
    config = {"optimized_metric": "val/loss", "report": {"metrics": ["val/acc"]}}
    runs = [run(f"j{v}", {"val/loss": [(0, v)], "val/acc": [(0, 1 - v)]}, config,
                swept=["lr"]) for v in (0.3, 0.1, 0.2)]  # fmt: skip
    assert grouping(runs) is None
    title, header, rows = summary_table(runs)
    assert title == "3 runs, best val/loss first"
    assert header[1:] == ["lr", "val/loss final", "val/loss best", "val/acc final", "val/acc best"]
    assert [row[0] for row in rows] == ["j0.1", "j0.2", "j0.3"]
    title, _, _ = summary_table(runs, group_by=["lr", "wd"])
    assert title == "3 runs by lr, wd: final values"
    plain = [run("only", {"val/acc": [(0, 0.5)]}, swept=["lr"])]
    title, header, rows = summary_table(plain)
    assert title == "1 run" and header == ["job", "lr", *(f"{m} {k}" for m in
        ["val/acc", "test/acc"] for k in ("final", "best"))]  # fmt: skip


def test_grouping_takes_a_list_and_reads_legacy_seed_overrides():
    listed = run("a", {}, {"report": {"group_by": ["model.lr", "wd"]}})
    assert grouping([listed]) == ["model.lr", "wd"]
    legacy = [run("b", {}, overrides=["lr=0.1", "seed=2"])]  # swept keys not recorded then
    assert grouping(legacy) == ["overrides"]
    assert grouping([run("c", {}, overrides=["lr=0.1"])]) is None
