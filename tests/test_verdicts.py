"""A summary's verdict holds statistically: Welch's t-test at 5 %, two-sided, with the
difference's 95 % interval and its p-value, checked against values worked out by hand (Welch's
degrees of freedom, Student's t from its table) on both sides of the threshold, against the
regularization sweep's own numbers, and for every direction each built-in model declares, from
the model class through its run folder to the summary's best, order and verdict."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf
from scipy import stats

from dl101 import models
from dl101.results.runs import find_runs
from dl101.results.tables import group_rows, job_rows, verdict, welch
from dl101.run.training import write_judged_by

T_975 = {2: 4.302653, 4: 2.776445, 8: 2.306004}  # Student's t table, two-sided 5 %


def hand(values: list[float], reference: list[float]) -> tuple[float, float, float]:
    """The difference of means, its standard error and Welch's degrees of freedom, written out."""

    def mean(v):
        return sum(v) / len(v)

    def var_of_mean(v):
        return sum((x - mean(v)) ** 2 for x in v) / (len(v) - 1) / len(v)

    a, b = var_of_mean(values), var_of_mean(reference)
    df = (a + b) ** 2 / (a**2 / (len(values) - 1) + b**2 / (len(reference) - 1))
    return mean(values) - mean(reference), math.sqrt(a + b), df


REFERENCE = [0.50, 0.52, 0.54]  # three seeds, sample std 0.02
SPREAD = [-0.02, 0.0, 0.02]  # the same spread around any mean: 4 degrees of freedom


@pytest.mark.parametrize("direction", ["max", "min"])
def test_the_call_changes_exactly_at_welchs_threshold_not_at_two_standard_errors(direction):
    _, se, df = hand([0.5 + d for d in SPREAD], REFERENCE)
    assert df == pytest.approx(4)
    threshold = T_975[4] * se  # 0.0453: with three seeds, 2.78 standard errors, not 2
    better, worse = ("better", "worse") if direction == "max" else ("worse", "better")
    for gap, call in [
        (threshold + 1e-4, better),
        (threshold - 1e-4, "not significant"),
        (2.5 * se, "not significant"),  # beyond 2 standard errors: "better" before this rule
        (-(threshold + 1e-4), worse),
        (-(threshold - 1e-4), "not significant"),
    ]:
        values = [0.52 + gap + d for d in SPREAD]
        low, high = gap - T_975[4] * se, gap + T_975[4] * se
        assert verdict(values, REFERENCE, direction).startswith(
            f"{gap:+.4f} [{low:+.4f}, {high:+.4f}] p="
        )
        assert verdict(values, REFERENCE, direction).endswith(f": {call}")
    at = welch([0.52 + threshold + d for d in SPREAD], REFERENCE)
    assert at.p == pytest.approx(0.05, abs=1e-5)  # the threshold is where p is 5 %
    assert (at.low, at.high) == pytest.approx((0, 2 * threshold), abs=1e-6)


def test_unequal_spreads_and_sizes_use_welchs_degrees_of_freedom():
    values, reference = [0.61, 0.70, 0.52, 0.66, 0.58], [0.50, 0.51]
    diff, se, df = hand(values, reference)  # df 4.3: neither 5 nor the pooled 5
    test = welch(values, reference)
    t = diff / se
    assert test.diff == pytest.approx(diff)
    assert test.p == pytest.approx(2 * stats.t.sf(t, df))
    half = stats.t.ppf(0.975, df) * se
    assert (test.low, test.high) == pytest.approx((diff - half, diff + half))
    pooled = stats.ttest_ind(values, reference).pvalue  # the equal-variance test differs
    assert abs(pooled - test.p) > 0.005


def test_too_few_seeds_no_spread_and_no_direction():
    assert verdict([0.7], [0.5, 0.6]) == "too few seeds to judge"
    assert verdict([0.7, 0.8], [0.5]) == "too few seeds to judge"
    assert verdict([0.7, 0.7], [0.5, 0.5]) == "+0.2000 [+0.2000, +0.2000] p<0.001: better"
    assert verdict([0.5, 0.5], [0.5, 0.5]) == "+0.0000 [+0.0000, +0.0000] p=1: not significant"
    far = [0.52 + 0.1 + d for d in SPREAD]
    assert verdict(far, REFERENCE, None).endswith(": differs")  # a time: never "better"
    assert verdict(REFERENCE, REFERENCE, None).endswith(": not significant")


# docs/results/regularization.md: val/acc mean ± std over 5 seeds per remedy (`make
# sweep-regularization`), the baseline first.
REGULARIZATION = {
    "baseline": (0.5286, 0.0234),
    "weight_decay": (0.5294, 0.0221),
    "dropout": (0.5778, 0.0132),
    "augmentation": (0.6360, 0.0140),
}


def seeds_with(mean: float, std: float, n: int = 5) -> list[float]:
    """n values with exactly this mean and sample standard deviation."""
    z = [i - (n - 1) / 2 for i in range(n)]
    scale = std / math.sqrt(sum(v * v for v in z) / (n - 1))
    return [mean + scale * v for v in z]


@pytest.mark.parametrize(
    ("remedy", "call"),
    [("weight_decay", "not significant"), ("dropout", "better"), ("augmentation", "better")],
)
def test_the_regularization_sweeps_own_numbers(remedy, call):
    reference = seeds_with(*REGULARIZATION["baseline"])
    values = seeds_with(*REGULARIZATION[remedy])
    expected = stats.ttest_ind_from_stats(
        *REGULARIZATION[remedy], 5, *REGULARIZATION["baseline"], 5, equal_var=False
    )
    test = welch(values, reference)
    assert test.p == pytest.approx(expected.pvalue)
    diff, se, df = hand(values, reference)
    assert test.high - test.low == pytest.approx(2 * stats.t.ppf(0.975, df) * se)
    assert verdict(values, reference, "max").endswith(f": {call}")


# What each built-in model's metrics mean, known here independently of the models' code: which
# way is better for each family (the last part of a tag) the model declares.
BETTER = {"acc": "max", "acc_best": "max", "loss": "min", "loss_epoch": "min", "mse": "min",
          "ppl": "min"}  # fmt: skip
BUILT_IN = [getattr(models, name) for name in models.__all__]


def run_folders(root: Path, model, tag: str, finals: dict[str, list[float]]) -> None:
    """A run folder per value, as training leaves it: its config, what `model` is judged by
    (written by training's own `write_judged_by`) and its TensorBoard scalar `tag`."""
    from torch.utils.tensorboard import SummaryWriter

    trainer = SimpleNamespace(checkpoint_callback=None)
    for variant, values in finals.items():
        for i, value in enumerate(values):
            folder = root / f"{variant}-{i}"
            (folder / ".hydra").mkdir(parents=True)
            OmegaConf.save({"variant": variant}, folder / ".hydra" / "config.yaml")
            write_judged_by(folder, model, trainer)
            writer = SummaryWriter(str(folder))
            writer.add_scalar(tag, value + 1, 0)  # an early value, higher than the final one
            writer.add_scalar(tag, value, 1)
            writer.close()


@pytest.mark.parametrize("model", BUILT_IN, ids=lambda m: m.__name__)
def test_every_direction_a_built_in_model_declares_reaches_the_summary(model, tmp_path):
    assert set(model.directions) <= set(BETTER), f"{model.__name__}: a family this test lacks"
    for family, declared in model.directions.items():
        assert declared == BETTER[family], f"{model.__name__} declares {family}: {declared}"
        root, tag = tmp_path / family, f"val/{family}"
        run_folders(root, model, tag, {"base": [2.0, 2.1, 2.2], "higher": [3.0, 3.1, 3.2]})
        runs = find_runs(root)
        _, rows = group_rows(runs, [tag], ["variant"])
        higher_is = "better" if BETTER[family] == "max" else "worse"
        assert rows[1][-1].endswith(f": {higher_is}"), (model.__name__, family, rows)
        _, rows = job_rows(runs, [tag], sort_by=tag)
        best_first = "higher" if BETTER[family] == "max" else "base"
        assert rows[0][0].startswith(best_first), (model.__name__, family)
        high = next(run for run in runs if run.path.name == "higher-0")  # logged 4.0, then 3.0
        assert high.best(tag) == (4.0 if BETTER[family] == "max" else 3.0)
