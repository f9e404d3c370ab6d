"""The course's figures, drawn with matplotlib from runs' TensorBoard scalars and checkpoints.

Each function takes the runs of one experiment (`dl101.results.runs.Run`) and returns one
Figure, whose plotted data tests can read back; `save` writes it as a PNG.
Figures are built as `matplotlib.figure.Figure` objects: no pyplot state, no display needed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.image import imread
from torchmetrics.classification import MulticlassConfusionMatrix

from dl101.results.figures import count, group_bars
from dl101.results.runs import Run, group_runs, mean_curve
from dl101.run.inference import load_for_prediction

DPI = 110


def save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def plot_mean(ax, runs: list[Run], tag: str, label: str, x: Callable[[int], float] = float):
    steps, means, stds, *_ = mean_curve(runs, tag)
    if not steps:
        return
    xs = [x(step) for step in steps]
    (line,) = ax.plot(xs, means, label=label)
    low = [m - s for m, s in zip(means, stds, strict=True)]
    high = [m + s for m, s in zip(means, stds, strict=True)]
    ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def seeds_label(runs: list[Run]) -> str:
    return f"mean ± std of {len(runs)} seeds" if len(runs) > 1 else "one run"


def logreg_curves(runs: list[Run], course_acc: dict[int, float]) -> Figure:
    """Course II C: training loss against iterations, test accuracy every 500 iterations."""
    figure = Figure(figsize=(10, 3.8))
    loss_ax, acc_ax = figure.subplots(1, 2)
    plot_mean(loss_ax, runs, "train/loss", f"dl101 ({seeds_label(runs)})")
    loss_ax.set(xlabel="iteration", ylabel="training loss (one batch)", title="Training loss")
    plot_mean(acc_ax, runs, "test_curve/acc", f"dl101 ({seeds_label(runs)})")
    acc_ax.plot(list(course_acc), list(course_acc.values()), "kD", label="course")
    acc_ax.set(xlabel="iteration", ylabel="test accuracy", title="Test accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    return figure


def regularization_curves(runs: list[Run]) -> Figure:
    """Course III F: training (eval mode) and validation accuracy against iterations."""
    groups = group_runs(runs, ["regularization_name"])
    figure = Figure(figsize=(4 * len(groups), 3.6))
    axes = figure.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    for ax, (name, members) in zip(axes, groups.items(), strict=True):
        plot_mean(ax, members, "train_eval/acc", "training")
        plot_mean(ax, members, "val/acc", "validation")
        ax.set(title=f"{name} ({count(len(members), 'seed')})", xlabel="iteration")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    return figure


def capacity_curves(runs: list[Run], key: str = "hidden_width") -> Figure:
    """Course III A: final training (eval mode) and validation accuracy against the hidden
    layer's width, mean ± std over seeds: both low where the model underfits, far apart where
    it overfits."""
    groups = sorted(group_runs(runs, [key]).items(), key=lambda item: float(item[0]))
    widths = [float(width) for width, _ in groups]
    figure = Figure(figsize=(6.5, 3.8))
    ax = figure.subplots()
    for tag, label in (("train_eval/acc", "training (20 images)"), ("val/acc", "validation")):
        finals = [
            [v for run in members if (v := run.final(tag)) is not None] for _, members in groups
        ]
        means = [statistics.mean(values) for values in finals]
        stds = [statistics.stdev(values) if len(values) > 1 else 0.0 for values in finals]
        ax.errorbar(widths, means, yerr=stds, marker="o", capsize=4, label=label)
    seeds = {len(members) for _, members in groups}
    per_width = count(seeds.pop(), "seed") if len(seeds) == 1 else "seeds"
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [f"{width:g}" for width in widths])
    ax.set(xlabel="hidden units (one hidden layer)", ylabel="final accuracy", ylim=(0, 1.05),
           title=f"Capacity: under- and overfitting (mean ± std, {per_width})")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    return figure


def regularization_bars(runs: list[Run], course_val: dict[str, float]) -> Figure:
    """Course III: final validation accuracy per remedy, mean ± std over seeds, beside the
    course's single runs."""
    groups = group_runs(runs, ["regularization_name"])
    finals = {name: [run.final("val/acc") for run in members] for name, members in groups.items()}
    title = "Regularization on 20 training images"
    return group_bars(finals, "validation accuracy", course_val, title)


def gradient_norms(runs: list[Run]) -> Figure:
    """Course III E: each layer's weight-gradient norm at initialization, per activation and
    initialization (log scale): vanishing falls to the left, exploding rises."""
    figure = Figure(figsize=(7.5, 4.2))
    ax = figure.subplots()
    for run in runs:
        layers = sorted(tag for tag in run.events if tag.startswith("grad_norm/layer"))
        norms = [run.events[tag][0][1] for tag in layers]  # the first logged step: init
        label = f"{run.lookup('model.activation')} / {run.lookup('model.init')}"
        ax.plot(range(1, len(norms) + 1), norms, marker="o", label=label)
    ax.set_yscale("log")
    ax.set(xlabel="layer (input to output)", ylabel="gradient norm at initialization",
           title="Gradient flow through 8 hidden layers")  # fmt: skip
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    return figure


def plot_per_epoch(ax, runs: list[Run], tag: str, label: str) -> None:
    """A scalar logged once an epoch: mean over runs against the epoch number (from 1)."""
    per_run = [run.values(tag) for run in runs]
    epochs = min((len(v) for v in per_run), default=0)
    if not epochs:
        return
    means = [statistics.mean(v[i] for v in per_run) for i in range(epochs)]
    ax.plot(range(1, epochs + 1), means, marker="o", label=label)


def rnn_curves(runs: list[Run], course_train_acc: list[float]) -> Figure:
    """Course V: training and validation accuracy per epoch; the course's training accuracy."""
    figure = Figure(figsize=(6.5, 3.8))
    ax = figure.subplots()
    plot_per_epoch(ax, runs, "train/acc", "training (epoch mean)")
    plot_per_epoch(ax, runs, "val/acc", "validation")
    ax.plot(range(1, len(course_train_acc) + 1), course_train_acc, "kD",
            label="course training (last batch)")  # fmt: skip
    seeds = f"mean of {count(len(runs), 'seed')}" if len(runs) > 1 else "one run"
    ax.set(xlabel="epoch", ylabel="accuracy", title=f"RNN on MNIST rows ({seeds})")
    ax.grid(alpha=0.3)
    ax.legend()
    return figure


def perplexity_curves(runs: list[Run], vocab_size: int | None) -> Figure:
    """Course V C: training and validation perplexity against steps (log scale)."""
    figure = Figure(figsize=(6.5, 3.8))
    ax = figure.subplots()
    plot_mean(ax, runs, "train/ppl", "training (one batch)")
    steps, means, *_ = mean_curve(runs, "val/ppl")
    ax.plot(steps, means, marker="o", label="validation (held-out plays)")
    if vocab_size:
        ax.axhline(vocab_size, color="gray", linestyle="--", label=f"uniform guess ({vocab_size})")
    ax.set_yscale("log")
    ax.set(xlabel="step", ylabel="perplexity", title="Character-level language model")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return figure


def image_panel(images: dict[str, Path], title: str) -> Figure:
    """Saved images (such as a run's feature-map grids) side by side, one titled panel each."""
    figure = Figure(figsize=(3.2 * len(images), 3.6))
    axes = figure.subplots(1, len(images), squeeze=False)[0]
    for ax, (caption, image_path) in zip(axes, images.items(), strict=True):
        ax.imshow(imread(image_path))
        ax.set_title(caption, fontsize=10)
        ax.axis("off")
    figure.suptitle(title)
    return figure


@torch.no_grad()
def confusion_counts(ckpt_path: Path) -> torch.Tensor:
    """(10, 10) counts of (true row, predicted column) over the official test set."""
    model, datamodule = load_for_prediction(str(ckpt_path))
    datamodule.setup("test")
    model.eval()
    matrix = MulticlassConfusionMatrix(num_classes=10)
    for x, y in datamodule.test_dataloader():
        matrix.update(model(x).argmax(1), y)
    return matrix.compute()


def confusion_matrix(counts: torch.Tensor, title: str) -> Figure:
    """The counts drawn as the course draws them: true digits down, predictions across."""
    accuracy = counts.diag().sum().item() / counts.sum().item()
    figure = Figure(figsize=(6, 5.4))
    ax = figure.subplots()
    image = ax.imshow(counts.log1p(), cmap="Blues")
    for true in range(10):
        for guess in range(10):
            value = int(counts[true, guess])
            if value:
                color = "white" if true == guess else "black"
                ax.text(guess, true, str(value), ha="center", va="center", fontsize=7, color=color)
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted", ylabel="true")
    ax.set_title(f"{title}\ntest accuracy {accuracy:.4f} (10,000 test digits)", fontsize=10)
    figure.colorbar(image, ax=ax, label="log(1 + count)")
    return figure
