"""Write `course.md`: the course's numbers beside ours (mean ± std over seeds, read from the runs'
TensorBoard event files), the sweeps' tables, and the course's figures redrawn from our runs."""

from __future__ import annotations

import os
import platform
import shutil
from datetime import datetime
from pathlib import Path

import torch

from dl101 import PROJECT_ROOT
from dl101.course import figures
from dl101.course.figures import save
from dl101.course.runner import experiment_overrides
from dl101.results.runs import Run, find_runs
from dl101.results.tables import COMPARED_BY, group_rows, grouping, markdown_table, mean_std
from dl101.run.checkpoints import load_checkpoint

MNIST_CLASSIFIERS = ("logreg", "lenet", "cnn", "rnn")
# FeatureMaps' grids of a CNN run -> captions in the report's panel.
CNN_PANELS = {
    "first-layer filters": "filters_conv1",
    "input digits": "feature_maps_input",
    "block 1 maps": "feature_maps_block1_digit0",
    "block 2 maps": "feature_maps_block2_digit0",
}


def row_value(run: Run, row: dict) -> float | None:
    """The row's metric in one run: at a step, at the end of an epoch, or final."""
    at = row.get("at") or {}
    if "step" in at:
        return run.at_step(row["metric"], at["step"])
    if "epoch" in at:
        values = run.values(row["metric"])
        return values[at["epoch"] - 1] if len(values) >= at["epoch"] else None
    return run.final(row["metric"])


def matching(runs: list[Run], where: dict | None) -> list[Run]:
    return [r for r in runs if all(str(r.lookup(k)) == str(v) for k, v in (where or {}).items())]


def command(spec: dict) -> str:
    return f"`python -m dl101.train -m {' '.join(experiment_overrides(spec))}`"


def course_rows(experiments: dict, runs: dict[str, list[Run]]) -> list[str]:
    """One row per number the course prints: which printout it is, ours beside it (mean ± std
    over seeds), and why the two may differ."""
    rows = []
    for name, spec in experiments.items():
        for row in spec.get("rows") or []:
            members = matching(runs.get(name, []), row.get("where"))
            values = [v for run in members if (v := row_value(run, row)) is not None]
            course = "-" if row.get("course") is None else f"{row['course']:,g}"  # as printed
            ours = mean_std(values, show_n=True) if values else "not run"
            printout = row.get("printout", "")
            rows.append(
                [spec["section"], row["quantity"], course, ours, printout, row.get("note", ""),
                 command(spec)]
            )  # fmt: skip
    header = ["section", "quantity", "course", "dl101", "the course's printout",
              "why they may differ", "command"]  # fmt: skip
    return markdown_table(header, rows)


def sweep_table(runs: list[Run]) -> list[str]:
    """The sweep's own summary (its `report` config), as the sweep printed it, and how its
    verdicts are reached where it has them."""
    report_cfg = runs[0].lookup("report") or {}
    metrics = list(report_cfg.get("metrics") or ["val/acc"])
    header, rows = group_rows(runs, metrics, grouping(runs) or ["overrides"])
    table = markdown_table(header, rows)
    if any(COMPARED_BY in column for column in header):
        table += ["", VERDICTS]
    return table


VERDICTS = (
    "Each setting against the first: Welch's t-test at 5 %, two-sided, over the seeds (the "
    "difference of the means, its 95 % confidence interval and the p-value); `better` or "
    "`worse` only where it rejects equal means, `not significant` otherwise."
)


def course_numbers(spec: dict, metric: str, key) -> dict:
    return {key(row): row["course"] for row in spec.get("rows") or [] if row["metric"] == metric}


def best_mnist_checkpoint(runs: dict[str, list[Run]]) -> tuple[Path, str] | None:
    scored = [
        (run.final("test/acc"), name, run)
        for name in MNIST_CLASSIFIERS
        for run in runs.get(name, [])
        if run.final("test/acc") is not None
    ]
    if not scored:
        return None
    _, name, run = max(scored, key=lambda item: item[0])
    checkpoints = sorted((run.path / "checkpoints").glob("epoch*.ckpt")) or sorted(
        (run.path / "checkpoints").glob("*.ckpt")
    )
    return (checkpoints[-1], name) if checkpoints else None


def vocab_size(run: Run) -> int | None:
    checkpoint_path = run.path / "checkpoints" / "last.ckpt"
    if not checkpoint_path.is_file():
        return None
    return len(load_checkpoint(str(checkpoint_path)).get("TextDataModule", {}).get("itos", []))


def draw_figures(experiments: dict, runs: dict[str, list[Run]], out: Path) -> dict[str, Path]:
    """Every figure whose runs exist, by experiment name."""
    drawn: dict[str, Path] = {}
    if runs.get("logreg"):
        acc = course_numbers(experiments["logreg"], "test_curve/acc", lambda r: r["at"]["step"])
        drawn["logreg"] = save(
            figures.logreg_curves(runs["logreg"], acc), out / "logreg_curves.png"
        )
    if runs.get("capacity"):
        drawn["capacity"] = save(figures.capacity_curves(runs["capacity"]), out / "capacity.png")
    if runs.get("regularization"):
        course = course_numbers(
            experiments["regularization"], "val/acc", lambda r: r["where"]["regularization_name"]
        )
        reg = runs["regularization"]
        curves = figures.regularization_curves(reg)
        drawn["regularization_curves"] = save(curves, out / "regularization_curves.png")
        bars = figures.regularization_bars(reg, course)
        drawn["regularization"] = save(bars, out / "regularization.png")
    if runs.get("stability"):
        norms = figures.gradient_norms(runs["stability"])
        drawn["stability"] = save(norms, out / "gradient_norms.png")
    if runs.get("cnn"):
        maps = runs["cnn"][0].path / "figures"
        panels = {caption: maps / f"{stem}.png" for caption, stem in CNN_PANELS.items()}
        if all(png.is_file() for png in panels.values()):
            title = "CNN filters, and feature maps of the first digit"
            drawn["cnn"] = save(figures.image_panel(panels, title), out / "cnn_feature_maps.png")
    if runs.get("rnn"):
        epochs = course_numbers(experiments["rnn"], "train/acc", lambda r: r["at"]["epoch"])
        train_acc = [epochs[e] for e in sorted(epochs)]
        drawn["rnn"] = save(figures.rnn_curves(runs["rnn"], train_acc), out / "rnn_curves.png")
        grid = runs["rnn"][0].path / "figures" / "test_predictions.png"
        if grid.is_file():
            drawn["rnn predictions"] = Path(shutil.copy(grid, out / "rnn_test_predictions.png"))
    if best := best_mnist_checkpoint(runs):
        checkpoint, name = best
        title = f"The best MNIST model: {experiments[name]['title']}"
        matrix = figures.confusion_matrix(figures.confusion_counts(checkpoint), title)
        drawn["confusion"] = save(matrix, out / "confusion.png")
    if runs.get("char_lm"):
        lm = runs["char_lm"]
        curves = figures.perplexity_curves(lm, vocab_size(lm[0]))
        drawn["char_lm"] = save(curves, out / "char_lm_perplexity.png")
    return drawn


def machine() -> str:
    """What the wall times were measured on: cores, GPU, torch and Python."""
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (
        f"{os.cpu_count()} CPU cores ({platform.machine()}){gpu}, torch {torch.__version__}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def shown_path(path: Path) -> str:
    """`path` relative to the checkout where it lies in it: no machine's own folders."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else path.name


def write_course_report(
    runs_dir: Path,
    experiments: dict,
    budget: str,
    timings: dict[str, float],
    out_dir: Path,
    figures_name: str = "figures",
) -> Path:
    """`out_dir/course.md`, its figures in `out_dir/figures_name/`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fig_dir = out_dir / figures_name
    fig_dir.mkdir(exist_ok=True)
    for old in fig_dir.glob("*.png"):  # its own figures; pages beside them (docs/course/) stay
        old.unlink()
    runs = {
        name: find_runs(runs_dir / name)
        for name in experiments
        if list((runs_dir / name).glob("**/.hydra/config.yaml"))
    }
    total = sum(timings.values())
    lines = [
        "# Deep Learning 101, reproduced",
        "",
        f"`python -m dl101.course budget={budget}` on {datetime.now():%Y-%m-%d}: every experiment "
        "behind a number, table or figure of the course, one process each, seeded"
        + (f"; {len(timings)} experiments in {total / 60:.1f} min" if timings else "")
        + f" on {machine()} (wall times are this machine's; another's differ, and they vary "
        f"by a few percent from run to run). Runs: `{shown_path(runs_dir)}`.",
        "",
    ]
    lines += markdown_table(
        ["section", "experiment", "runs", "wall time"],
        [
            [
                spec["section"],
                spec["title"],
                str(len(runs.get(name, [])) or "failed or not run"),
                f"{timings[name]:.0f} s" if name in timings else "-",
            ]
            for name, spec in experiments.items()
        ],
    )
    lines += ["", "## The course's numbers beside ours", ""]
    lines += course_rows(experiments, runs)
    lines += ["", "Values are final unless the quantity names an iteration or an epoch; "
              "± is the standard deviation over seeds."]  # fmt: skip

    drawn = draw_figures(experiments, runs, fig_dir)
    lines += ["", "## Figures and tables", ""]
    for name, spec in experiments.items():
        items = [(key, path) for key, path in drawn.items() if key.split()[0] == name]
        if name == "regularization":
            items = [(k, p) for k, p in drawn.items() if k.startswith("regularization")]
        sweep = runs.get(name) and (runs[name][0].lookup("report") or {}).get("group_by")
        if not items and not sweep:
            continue
        lines += [f"### {spec['section']}: {spec['title']}", ""]
        if sweep:
            lines += [*sweep_table(runs[name]), ""]
        lines += [f"![{key}]({figures_name}/{path.name})" for key, path in items] + [""]
    if "confusion" in drawn:
        lines += ["### The best MNIST model's errors", ""]
        lines += [f"![confusion]({figures_name}/confusion.png)", ""]
    sample = runs.get("char_lm") and runs["char_lm"][0].path / "figures" / "sample.txt"
    if sample and sample.is_file():
        lines += ["### A sample from the language model", "", "```", sample.read_text().rstrip()]
        lines += ["```", ""]
    report = out_dir / "course.md"
    report.write_text("\n".join(lines) + "\n")
    return report
