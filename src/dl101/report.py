"""Summarize a run or a multirun folder from its TensorBoard event files.

    python -m dl101.report logs/train/multiruns/<time> [--group-by KEY] [--metrics M ...]

One row per job (its overrides and the final and best value of each metric), or, with
--group-by (or when the sweep varies `seed`), one row per group with mean +- std over its jobs
beside the course's number when the job's config carries `course_result`. Printed as a rich
table and written as report.md and report.csv in the folder; then what produced the runs (their
provenance: code version, versions, device, command).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from dl101.errors import error_boundary
from dl101.results.provenance import provenance_lines, read_provenance, shared_provenance
from dl101.results.runs import continuation, find_runs
from dl101.results.tables import DEFAULT_METRICS, summary_table, write_report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarize runs from their TensorBoard logs.")
    parser.add_argument("path", type=Path, help="a run folder or a multirun folder")
    parser.add_argument("--group-by", help="config keys to group jobs by, comma-separated")
    parser.add_argument("--metrics", nargs="+", help=f"scalar tags (default {DEFAULT_METRICS})")
    args = parser.parse_args(argv)
    with error_boundary():
        runs = find_runs(args.path)
        group_by = args.group_by.split(",") if args.group_by else None
        title, header, rows = summary_table(runs, group_by, args.metrics)
        console = Console(width=160)
        console.print(write_report(args.path, title, header, rows))
        console.print(f"Written: {args.path / 'report.md'}, {args.path / 'report.csv'}")
        if hint := continuation(args.path, runs):
            console.print(hint, soft_wrap=True, markup=False)
        print_provenance(console, runs)


def print_provenance(console: Console, runs: list) -> None:
    """What produced the runs (their provenance.yaml): the first run's, and what the others
    differ from it in."""
    recorded = [(run, p) for run in runs if (p := read_provenance(run.path))]
    if not recorded:
        return
    first, differ = shared_provenance([p for _, p in recorded])
    also = f"; the runs differ in {', '.join(differ)}" if differ else ""
    console.print(f"Provenance of {recorded[0][0].path} ({len(recorded)} of {len(runs)} runs "
                  f"recorded one{also}):", markup=False, soft_wrap=True)  # fmt: skip
    for line in provenance_lines(first):
        console.print(f"  {line}", markup=False, soft_wrap=True)


if __name__ == "__main__":
    main()
