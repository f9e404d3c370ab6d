"""Figures shared by a sweep's summary and the course report, drawn as matplotlib Figure
objects (no pyplot state, no display needed)."""

from __future__ import annotations

import statistics

from matplotlib.figure import Figure


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("s" if n != 1 else "")


def group_bars(
    finals: dict[str, list[float]], metric: str, course: dict[str, float], title: str
) -> Figure:
    """Each group's final `metric`, mean ± std over its seeds, with the course's number beside
    it where the course has one (a sweep's summary, the regularization figure)."""
    names = list(finals)
    means = [statistics.mean(v) if v else float("nan") for v in finals.values()]
    stds = [statistics.stdev(v) if len(v) > 1 else 0.0 for v in finals.values()]
    seeds = {len(v) for v in finals.values()}
    per_group = count(seeds.pop(), "seed") if len(seeds) == 1 else "seeds"
    figure = Figure(figsize=(max(6.5, 1.3 * len(names)), 3.8))
    ax = figure.subplots()
    ax.bar(range(len(names)), means, yerr=stds, capsize=6, color="tab:blue", alpha=0.8,
           label=f"dl101 (mean ± std, {per_group})")  # fmt: skip
    ax.set_xticks(range(len(names)), names)  # positions: names such as "0.01" stay labels
    known = [(i, course[name]) for i, name in enumerate(names) if name in course]
    if known:
        ax.plot([i for i, _ in known], [v for _, v in known], "kD", label="course (one run)")
    if all(0 <= m <= 1 for m in means if m == m):  # accuracies: the whole scale, and room
        ax.set_ylim(0, 1.2)  # above 1 for the legend, clear of the bars
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    elif tops := [m + sd for m, sd in zip(means, stds, strict=True) if m == m and m + sd > 0]:
        ax.set_ylim(top=1.25 * max(tops))  # room for the legend above the bars
    ax.set(ylabel=f"final {metric}", title=title)
    ax.tick_params(axis="x", labelrotation=20 if len(names) > 4 else 0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", ncol=2, frameon=False)
    return figure
