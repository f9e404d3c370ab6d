"""Summarize a run or a multirun folder from its TensorBoard event files.

    python -m dl101.report logs/train/multiruns/<time> [--group-by KEY] [--metrics M ...]

One row per job (its overrides and the final and best value of each metric), or, with
--group-by (or when the sweep varies `seed`), one row per group with mean +- std over its jobs
beside the course's number when the job's config carries `course_result`. Printed as a rich
table and written as report.md and report.csv in the folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from dl101.runs import find_runs
from dl101.summary import group_rows, job_rows, write_report

DEFAULT_METRICS = ["val/acc", "test/acc"]


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
