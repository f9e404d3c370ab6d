"""The end of a multirun, read back from its jobs' event files: the summary table (printed, and
report.md and report.csv in the sweep folder), one TensorBoard run per group of seeds holding the
mean curve of every scalar its jobs logged, with their min and max (`mean/<group>`), and a
`summary` run with the table as TEXT and a bar chart per group as an IMAGE."""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from dl101.results.event_files import EventFile
from dl101.results.final_metrics import venv_command
from dl101.results.job_names import FAILED_MARKER, name_of
from dl101.results.runs import Run, find_runs, group_runs, mean_curve
from dl101.results.tables import (
    grouping,
    markdown_table,
    summary_table,
    write_report,
)

MEAN_DIR, SUMMARY_DIR = "mean", "summary"


def group_label(members: list[Run], group_by: list[str]) -> str:
    """The mean run's name: the group's values of its keys, as jobs are named."""
    if group_by == ["overrides"]:
        values = {k: v for k, v in members[0].hparams().items() if k != "seed"}
    else:
        values = {key: str(members[0].lookup(key)) for key in group_by}
    return name_of(values) or "all"


def margin_layout(tags: list[str]) -> dict:
    """Custom Scalars: each judged metric's seed mean inside its min-max band."""
    charts = {tag: ["Margin", [tag, f"spread/{tag}/min", f"spread/{tag}/max"]] for tag in tags}
    return {"seed means (min-max band)": charts}


def same_in_every_job(runs: list[Run]) -> set[str]:
    """Scalars every job logged alike (the epoch counter, a learning rate the sweep does not
    vary): their mean and spread would only repeat them."""
    tags = {tag for run in runs for tag in run.events}
    return {
        tag for tag in tags if all(run.events.get(tag) == runs[0].events.get(tag) for run in runs)
    }


def write_mean_runs(sweep_dir: Path, groups: dict[str, list[Run]], group_by, judged) -> list[Path]:
    """One run per group under `mean/`: every scalar's mean over the group's jobs, step by step
    (where all of them logged it), and its min and max as `spread/<tag>/min|max`; not the
    scalars that are the same in every job of the sweep."""
    shutil.rmtree(sweep_dir / MEAN_DIR, ignore_errors=True)  # a re-run summary replaces them
    constant = same_in_every_job([run for members in groups.values() for run in members])
    written = []
    for members in groups.values():
        out = sweep_dir / MEAN_DIR / group_label(members, group_by)
        writer = EventFile(out)
        for tag in sorted({tag for run in members for tag in run.events} - constant):
            steps, means, _, lows, highs = mean_curve(members, tag)
            for step, mean, low, high in zip(steps, means, lows, highs, strict=True):
                spread = {f"spread/{tag}/min": low, f"spread/{tag}/max": high}
                writer.add_scalars({tag: mean, **spread}, step)
        writer.add_custom_scalars(
            margin_layout([t for t in judged if any(t in r.events for r in members)])
        )
        writer.close()
        written.append(out)
    return written


def domain(values: list):
    """An HPARAMS column's domain from the values its jobs took: their set, or their range;
    none where the jobs' values differ in type (dropout 0.0 here, a list of rates there)."""
    from tensorboard.plugins.hparams import summary_v2 as hp

    if len({type(v) for v in values}) > 1:
        return None
    if isinstance(values[0], float) and len(set(values)) > 10:
        return hp.RealInterval(min(values), max(values))
    return hp.Discrete(sorted(set(values)))


def hparams_experiment(runs: list[Run], judged: list[str]):
    """The sweep's HPARAMS experiment: every column its jobs logged, marked where their values
    differ (HPARAMS shows those first), and as metrics the judged ones, then a few of those the
    jobs' models are judged by. Jobs of a sweep write only their rows; this names the columns."""
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    values: dict[str, list] = {}
    for run in runs:
        for name, value in run.session_hparams.items():
            values.setdefault(name, []).append(value)
    logged = {tag for run in runs for tag in run.events}
    declared = dict.fromkeys(tag for run in runs for tag in run.judged.get("metrics", []))
    others = [tag for tag in declared if tag in logged and tag not in judged]
    metrics = [tag for tag in judged if tag in logged] + others[:3]  # a table that fits a screen
    summary = hp.hparams_config_pb(
        hparams=[hp.HParam(name, domain(v)) for name, v in values.items()],
        metrics=[hp.Metric(tag) for tag in metrics],
    )
    value = summary.value[0]
    data = HParamsPluginData.FromString(value.metadata.plugin_data.content)
    for info in data.experiment.hparam_infos:
        info.differs = len({str(v) for v in values[info.name]}) > 1
    value.metadata.plugin_data.content = data.SerializeToString()
    return summary


def write_summary_run(
    sweep_dir: Path, title: str, markdown: list[str], groups, metric: str | None, experiment
) -> Path:
    """`summary/`: the table (TEXT), each group's final `metric`, mean ± std, beside the
    course's number where the experiment has one (IMAGE), and the sweep's HPARAMS experiment."""
    from dl101.results.figures import group_bars  # matplotlib: only now

    out = sweep_dir / SUMMARY_DIR
    shutil.rmtree(out, ignore_errors=True)
    writer = EventFile(out)
    writer.add_text("summary/table", f"**{title}**\n\n" + "\n".join(markdown))
    writer.add_summary(experiment)
    if metric:
        finals = {
            name: [v for run in members if (v := run.final(metric)) is not None]
            for name, members in groups.items()
        }
        course = {}
        for name, members in groups.items():
            value = (members[0].lookup("course_result") or {}).get(metric)
            if value is not None:
                course[name] = value
        figure = group_bars(finals, metric, course, title)
        figure.set_dpi(160)  # sharp where TensorBoard shows it enlarged
        writer.add_figure(f"summary/{metric}", figure)
    writer.close()
    return out


def summarize_sweep(sweep_dir: Path, console: Console | None = None) -> list[Run]:
    """Print and write the sweep's summary and its TensorBoard runs; return its jobs."""
    console = console or Console(width=160)
    runs = find_runs(sweep_dir)
    title, header, rows = summary_table(runs)
    console.print(write_report(sweep_dir, title, header, rows))
    group_by = grouping(runs)
    groups = group_runs(runs, group_by) if group_by else {run.path.name: [run] for run in runs}
    report_cfg = runs[0].lookup("report") or {}
    judged = list(report_cfg.get("metrics") or ["val/acc", "test/acc"])
    if group_by:
        write_mean_runs(sweep_dir, groups, group_by, judged)
    metric = next((m for m in reversed(judged) if any(r.final(m) is not None for r in runs)), None)
    experiment = hparams_experiment(runs, judged)
    write_summary_run(sweep_dir, title, markdown_table(header, rows), groups, metric, experiment)
    failed = [run for run in runs if run.failed]
    for run in failed:
        console.print(
            f"[red]failed[/]: {run.path.name}: {run.failed} (see {run.path / FAILED_MARKER})"
        )
    shown = f"{sweep_dir}/{{report.md,report.csv}}" + (f", {MEAN_DIR}/, " if group_by else ", ")
    board = f"{venv_command('tensorboard')} --logdir {sweep_dir}"
    console.print(f"Summary: {shown}{SUMMARY_DIR}/ (TensorBoard: {board})", soft_wrap=True)
    return runs
