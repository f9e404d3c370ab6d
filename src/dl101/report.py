"""Summarize a run or a multirun folder from its TensorBoard event files.

    python -m dl101.report logs/train/multiruns/<time> [--group-by KEY] [--metrics M ...]

One row per job (its overrides and the final and best value of each metric), or, with
--group-by (or when the sweep varies `seed`), one row per group with mean +- std over its jobs
beside the course's number when the job's config carries `course_result`. Printed as a rich
table and written as report.md and report.csv in the folder.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dl101.callbacks import gradient_flow_verdict

DEFAULT_METRICS = ["val/acc", "test/acc"]


def lower_is_better(tag: str) -> bool:
    return tag.split("/")[-1].startswith(("loss", "mse", "ppl"))


@dataclass
class Run:
    path: Path
    config: dict
    overrides: list[str]
    events: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # tag -> (step, v)

    def values(self, tag: str) -> list[float]:
        return [value for _, value in self.events.get(tag, [])]

    def final(self, tag: str) -> float | None:
        values = self.values(tag)
        return values[-1] if values else None

    def best(self, tag: str) -> float | None:
        values = self.values(tag)
        if not values:
            return None
        return min(values) if lower_is_better(tag) else max(values)

    def at_step(self, tag: str, step: int) -> float | None:
        """The last value logged at or before `step`."""
        before = [value for s, value in self.events.get(tag, []) if s <= step]
        return before[-1] if before else None

    def hparams(self) -> dict[str, str]:
        """The job's command-line overrides as key -> value."""
        return dict(o.lstrip("+~").split("=", 1) for o in self.overrides if "=" in o)

    def lookup(self, dotted_key: str):
        """A config value by dotted key; `overrides` = the job's overrides except its seed."""
        if dotted_key == "overrides":
            return " ".join(o for o in self.overrides if not o.startswith("seed=")) or "(none)"
        value = self.config
        for part in dotted_key.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Each scalar tag of the run's TensorBoard logs as (step, value) in step order, read with
    TensorBoard's own reader."""
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {
        tag: sorted((event.step, event.value) for event in accumulator.Scalars(tag))
        for tag in accumulator.Tags()["scalars"]
    }


def find_runs(path: Path) -> list[Run]:
    """Every run under `path` (itself included): folders with a `.hydra/config.yaml`."""
    runs = []
    for config_file in sorted(path.glob("**/.hydra/config.yaml")):
        run_dir = config_file.parent.parent
        overrides_file = run_dir / ".hydra" / "overrides.yaml"
        overrides = (
            OmegaConf.to_container(OmegaConf.load(overrides_file))
            if overrides_file.exists()
            else []
        )
        config = OmegaConf.to_container(OmegaConf.load(config_file), resolve=False)
        runs.append(Run(run_dir, config, overrides, read_scalars(run_dir)))
    if not runs:
        raise FileNotFoundError(f"{path}: no runs here (no .hydra/config.yaml below it)")
    return sorted(
        runs, key=lambda run: (len(run.path.parts), run.path.name.zfill(6), str(run.path))
    )


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1e4 and float(value).is_integer():  # counts such as parameters
        return f"{int(value):,}"
    return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e4 else f"{value:.3g}"


def mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return fmt(values[0] if values else None)
    return f"{fmt(statistics.mean(values))} ± {fmt(statistics.stdev(values))}"


def job_rows(
    runs: list[Run], metrics: list[str], sort_by: str | None = None
) -> tuple[list[str], list[list[str]]]:
    """One row per job: its overridden hparams, one column each, and the final and best value
    of each metric; sorted by `sort_by` (best first) when the jobs logged it."""
    keys = list(dict.fromkeys(key for run in runs for key in run.hparams()))
    if sort_by and any(run.best(sort_by) is not None for run in runs):
        sign = 1 if lower_is_better(sort_by) else -1
        missing = float("inf")
        runs = sorted(
            runs,
            key=lambda run: sign * run.best(sort_by) if run.best(sort_by) is not None else missing,
        )
    header = ["job", *keys, *(f"{m} {kind}" for m in metrics for kind in ("final", "best"))]
    rows = []
    for run in runs:
        cells = [run.path.name, *(run.hparams().get(key, "") for key in keys)]
        for metric in metrics:
            cells += [fmt(run.final(metric)), fmt(run.best(metric))]
        rows.append(cells)
    return header, rows


def group_rows(
    runs: list[Run], metrics: list[str], group_by: list[str]
) -> tuple[list[str], list[list[str]]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(" / ".join(str(run.lookup(key)) for key in group_by), []).append(run)
    course_keys = [
        m
        for m in metrics
        if any(COURSE_KEYS.get(m) in (run.lookup("course_result") or {}) for run in runs)
    ]
    judged = metrics[-1]
    compare = all(len(members) >= 2 for members in groups.values())  # seeds to judge spread
    flow = any(run.final("grad_flow/first_layer_at_init") is not None for run in runs)
    header = [" / ".join(group_by), "runs", *(f"{m} (mean ± std)" for m in metrics)]
    header += [f"course {m}" for m in course_keys]
    header += [f"{judged} vs {next(iter(groups))}"] * compare
    header += ["gradients at init"] * flow

    def finals(members: list[Run], metric: str) -> list[float]:
        return [v for run in members if (v := run.final(metric)) is not None]

    reference = finals(next(iter(groups.values())), judged)
    rows = []
    for name, members in groups.items():
        cells = [name, str(len(members))]
        cells += [mean_std(finals(members, metric)) for metric in metrics]
        course = members[0].lookup("course_result") or {}
        cells += [fmt(course.get(COURSE_KEYS[metric])) for metric in course_keys]
        if compare:
            cells.append(verdict(finals(members, judged), reference))
        if flow:
            run = members[0]
            ratio = run.final("grad_flow/first_over_last_at_init")
            cells.append(gradient_flow_verdict(ratio, run.final("grad_flow/first_layer_at_init")))
        rows.append(cells)
    return header, rows


def verdict(values: list[float], reference: list[float]) -> str:
    """Mean difference, called a change only beyond 2 standard errors of that difference."""
    if values == reference:
        return "reference"
    diff = statistics.mean(values) - statistics.mean(reference)
    se = (
        statistics.variance(values) / len(values) + statistics.variance(reference) / len(reference)
    ) ** 0.5
    call = "better" if diff > 2 * se else "worse" if diff < -2 * se else "within seed spread"
    return f"{diff:+.4f} ({call})"


# Which `course_result` entry a logged metric is compared with.
COURSE_KEYS = {"train_eval/acc": "train_acc", "val/acc": "val_acc", "test/acc": "test_acc"}


def write_report(path: Path, title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for column in header:
        numeric = column.endswith(("final", "best", ")", "runs")) or column.startswith("course")
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*row)
    markdown = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    markdown += ["| " + " | ".join(row) + " |" for row in rows]
    (path / "report.md").write_text("\n".join(markdown) + "\n")
    with (path / "report.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarize runs from their TensorBoard logs.")
    parser.add_argument("path", type=Path, help="a run folder or a multirun folder")
    parser.add_argument("--group-by", help="config keys to group jobs by, comma-separated")
    parser.add_argument("--metrics", nargs="+", help=f"scalar tags (default {DEFAULT_METRICS})")
    args = parser.parse_args(argv)
    runs = find_runs(args.path)
    report_cfg = runs[0].lookup("report") or {}
    group_by = args.group_by.split(",") if args.group_by else report_cfg.get("group_by")
    if isinstance(group_by, str):
        group_by = [group_by]
    if not group_by and any(o.startswith("seed=") for run in runs for o in run.overrides):
        group_by = ["overrides"]  # a sweep over seeds: one row per setting, mean ± std
    metrics = args.metrics or report_cfg.get("metrics") or DEFAULT_METRICS
    sort_by = runs[0].lookup("optimized_metric")  # what the sweep optimizes
    if group_by:
        header, rows = group_rows(runs, metrics, group_by)
        title = f"{len(runs)} runs by {', '.join(group_by)}: final values"
    else:
        if sort_by and sort_by not in metrics:
            metrics = [sort_by, *metrics]
        header, rows = job_rows(runs, metrics, sort_by)
        title = f"{len(runs)} runs" + (f", best {sort_by} first" if sort_by else "")
    console = Console(width=160)
    console.print(write_report(args.path, title, header, rows))
    console.print(f"Written: {args.path / 'report.md'}, {args.path / 'report.csv'}")


if __name__ == "__main__":
    main()
