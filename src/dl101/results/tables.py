"""Tables that compare runs: number formatting, mean ± std, the per-job and per-group rows with
their verdicts, and the Markdown, CSV and rich forms they are written in. No training stack:
`dl101.report` and the course report read event files with this alone."""

from __future__ import annotations

import collections
import csv
import math
import statistics
from pathlib import Path
from typing import NamedTuple

from rich.table import Table

from dl101.results.runs import Run, group_runs

DEFAULT_METRICS = ["val/acc", "test/acc"]


def fmt(value: float | None, spec: str | None = None) -> str:
    """A number for a table: with `spec` as given, else 4 decimals, counts whole with
    thousands separators, and very small or large values in 3 significant digits."""
    if value is None:
        return "-"
    if spec is not None:
        return format(value, spec)
    if abs(value) >= 1e4 and float(value).is_integer():  # counts such as parameters
        return f"{int(value):,}"
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.3g}"


def mean_std(values: list[float], show_n: bool = False) -> str:
    """`mean ± std` over seeds (`(n=N)` added with `show_n`); one value as it is."""
    if len(values) < 2:
        return fmt(values[0] if values else None)
    text = f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"
    return text + (f" (n={len(values)})" if show_n else "")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


LEVEL = 0.05  # a verdict's significance level, two-sided: 95 % confidence intervals


class Comparison(NamedTuple):
    """Welch's t-test of two groups' means: their difference (values - reference), its 95 %
    confidence interval and the two-sided p-value."""

    diff: float
    low: float
    high: float
    p: float


def welch(values: list[float], reference: list[float]) -> Comparison:
    """Welch's t-test (`scipy.stats.ttest_ind(equal_var=False)`): no equal variances assumed,
    Student's t with Welch's degrees of freedom, the threshold few seeds need (2.78 at 4 degrees
    of freedom, not 2). Two groups without any spread differ for certain where their means do."""
    import warnings

    from scipy import stats  # here: `import dl101.report` stays light

    diff = statistics.fmean(values) - statistics.fmean(reference)
    if statistics.variance(values) == 0 and statistics.variance(reference) == 0:
        return Comparison(diff, diff, diff, 1.0 if diff == 0 else 0.0)
    with warnings.catch_warnings():  # nearly equal values: scipy's precision note, not ours
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(values, reference, equal_var=False)
        interval = result.confidence_interval(1 - LEVEL)
    return Comparison(diff, float(interval.low), float(interval.high), float(result.pvalue))


COMPARED_BY = "Welch's t-test: difference [95 % CI] p"


def verdict(values: list[float], reference: list[float], direction: str | None = "max") -> str:
    """The mean difference to the reference group with its 95 % confidence interval and the
    p-value of Welch's t-test, called better or worse (in the metric's `direction`: "max" where
    higher is better) only where the test rejects equal means at 5 %, two-sided. A metric
    without a direction (a time, a norm) is only said to differ: which way is better is not
    dl101's to guess. Fewer than two values on either side: too few seeds to judge."""
    if len(values) < 2 or len(reference) < 2:
        return "too few seeds to judge"
    test = welch(values, reference)
    if not test.p < LEVEL:
        call = "not significant"
    elif direction is None:
        call = "differs"
    else:
        gain = -test.diff if direction == "min" else test.diff
        call = "better" if gain > 0 else "worse"
    p = "p<0.001" if test.p < 0.001 else f"p={test.p:.3g}"
    return f"{test.diff:+.4f} [{test.low:+.4f}, {test.high:+.4f}] {p}: {call}"


def gradient_flow_verdict(first_over_last: float, first_norm: float, band: float = 100.0) -> str:
    """Name the regime from the first layer's gradient norm, absolute and relative to the last
    layer's: a healthy network keeps both within `band` of 1."""
    if (
        not math.isfinite(first_over_last * first_norm)
        or first_norm > band
        or first_over_last > band
    ):
        return "exploding"
    if first_norm < 1 / band or first_over_last < 1 / band:
        return "vanishing"
    return "healthy"


def flow_regimes(members: list[Run]) -> str:
    """The gradient-flow regime a group's runs share at initialization, or how many are in
    each when their seeds disagree ("healthy 2, exploding 1"); "-" where none logged it."""
    regimes = collections.Counter(
        gradient_flow_verdict(ratio, first)
        for run in members
        if (first := run.final("grad_flow/first_layer_at_init")) is not None
        and (ratio := run.final("grad_flow/first_over_last_at_init")) is not None
    )
    if len(regimes) <= 1:
        return next(iter(regimes), "-")
    return ", ".join(f"{regime} {count}" for regime, count in regimes.most_common())


def job_rows(
    runs: list[Run], metrics: list[str], sort_by: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """One row per job: its overridden hparams, one column each, and the final and best value
    of each metric; sorted by `sort_by` (best first) when the jobs logged it."""
    swept = list(dict.fromkeys(key for run in runs for key in run.swept))
    keys = swept or list(dict.fromkeys(key for run in runs for key in run.hparams()))
    direction = next((d for run in runs if (d := run.direction(sort_by or ""))), None)
    if sort_by and direction and any(run.best(sort_by) is not None for run in runs):
        sign = -1 if direction == "max" else 1
        missing = float("inf")
        runs = sorted(
            runs,
            key=lambda run: sign * run.best(sort_by) if run.best(sort_by) is not None else missing,
        )
    header = ["job", *keys, *(f"{m} {kind}" for m in metrics for kind in ("final", "best"))]
    failures = any(run.failed for run in runs)
    header += ["failed"] * failures
    rows = []
    for run in runs:
        cells = [run.path.name, *(str(run.lookup(key) or "") for key in keys)]
        for metric in metrics:
            cells += [fmt(run.final(metric)), fmt(run.best(metric))]
        rows.append(cells + [(run.failed or "").split(":")[0]] * failures)
    return header, rows


def group_rows(
    runs: list[Run], metrics: list[str], group_by: list[str]
) -> tuple[list[str], list[list[str]]]:
    """One row per group of jobs: mean ± std of each metric's final value, the course's number
    where the config has one, the judged (last) metric against the first group, and the
    gradient-flow regime at initialization where it was logged."""
    groups = group_runs(runs, group_by)
    course_keys = [m for m in metrics if any(m in (r.lookup("course_result") or {}) for r in runs)]
    judged = metrics[-1]
    direction = next((d for run in runs if (d := run.direction(judged))), None)
    compare = any(len(members) >= 2 for members in groups.values())  # seeds to judge by
    flow = any(run.final("grad_flow/first_layer_at_init") is not None for run in runs)
    header = [" / ".join(group_by), "runs", *(f"{m} (mean ± std)" for m in metrics)]
    header += [f"course {m}" for m in course_keys]
    header += [f"{judged} vs {next(iter(groups))} ({COMPARED_BY})"] * compare
    header += ["gradients at init"] * flow

    def finals(members: list[Run], metric: str) -> list[float]:
        return [v for run in members if (v := run.final(metric)) is not None]

    first, *_ = groups
    reference = finals(groups[first], judged)
    rows = []
    for name, members in groups.items():
        failed = sum(bool(run.failed) for run in members)
        cells = [name, f"{len(members)}" + (f" ({failed} failed)" if failed else "")]
        cells += [mean_std(finals(members, metric)) for metric in metrics]
        course = members[0].lookup("course_result") or {}
        cells += [fmt(course.get(metric)) for metric in course_keys]
        if compare:
            values = finals(members, judged)
            cells.append("reference" if name == first else verdict(values, reference, direction))
        if flow:
            cells.append(flow_regimes(members))
        rows.append(cells)
    return header, rows


def grouping(runs: list[Run]) -> list[str] | None:
    """What a sweep's summary groups its jobs by: its `report.group_by`, else, when it varies
    the seed, every other key it varies (one row per setting, mean ± std over the seeds)."""
    group_by = (runs[0].lookup("report") or {}).get("group_by")
    if group_by:
        return [group_by] if isinstance(group_by, str) else list(group_by)
    swept = runs[0].swept
    if "seed" in swept:
        return [key for key in swept if key != "seed"] or ["overrides"]
    if any(o.startswith("seed=") for run in runs for o in run.overrides):
        return ["overrides"]  # a sweep from before swept keys were recorded
    return None


def summary_table(
    runs: list[Run], group_by: list[str] | None = None, metrics: list[str] | None = None
) -> tuple[str, list[str], list[list[str]]]:
    """The table `dl101.report` and the end of every multirun print: title, header, rows."""
    report_cfg = runs[0].lookup("report") or {}
    group_by = group_by or grouping(runs)
    metrics = list(metrics or report_cfg.get("metrics") or DEFAULT_METRICS)
    if group_by:
        header, rows = group_rows(runs, metrics, group_by)
        return f"{len(runs)} runs by {', '.join(group_by)}: final values", header, rows
    sort_by = runs[0].lookup("optimized_metric")  # what the sweep optimizes
    if sort_by and sort_by not in metrics:
        metrics = [sort_by, *metrics]
    header, rows = job_rows(runs, metrics, sort_by)
    title = f"{len(runs)} run" + "s" * (len(runs) != 1)
    return title + (f", best {sort_by} first" if sort_by else ""), header, rows


def write_report(path: Path, title: str, header: list[str], rows: list[list[str]]) -> Table:
    """report.md and report.csv in `path`; the same table for the terminal."""
    table = Table(title=title)
    for column in header:
        numeric = column.endswith(("final", "best", ")", "runs")) or column.startswith("course")
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*row)
    markdown = [f"# {title}", "", *markdown_table(header, rows)]
    (path / "report.md").write_text("\n".join(markdown) + "\n")
    with (path / "report.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return table
