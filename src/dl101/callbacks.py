"""Callbacks the course needs beyond Lightning's own."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from pytorch_lightning import Callback, LightningModule, Trainer
from pytorch_lightning.callbacks import RichProgressBar as LightningRichProgressBar
from pytorch_lightning.loggers import TensorBoardLogger
from rich import print as rprint
from rich.console import Console
from torchmetrics.classification import MulticlassAccuracy
from torchvision.utils import make_grid, save_image

from dl101.models.linear_regression import closed_form_fit, squared_error
from dl101.predict import as_rows, prediction_table
from dl101.sample import generate

# Hooks Lightning calls on every batch. It skips a callback's hook that is not callable.
BATCH_HOOKS = (
    "on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad", "on_validation_batch_start",
    "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_batch_start", "on_predict_batch_end",
)  # fmt: skip


def skip_unused_batch_hooks(callbacks: list[Callback]) -> list[Callback]:
    """Hide the per-batch hooks a callback does not override from Lightning.

    Lightning calls every hook of every callback, each in a profiler context named after the
    callback's state key: about 4 us each, 0.3 ms per step for ten callbacks doing nothing, more
    than a whole step of the course's small models. An instance attribute of None shadows the
    no-op method and Lightning passes over it (`if callable(fn)`).
    """
    for callback in callbacks:
        for hook in BATCH_HOOKS:
            if getattr(type(callback), hook) is getattr(Callback, hook):
                setattr(callback, hook, None)
    return callbacks


class RichProgressBar(LightningRichProgressBar):
    """Lightning's rich bar, updated every `every_n_batches` training batches instead of every
    one (each update cost about 0.1 ms); `refresh_rate` stays its redraws per second."""

    def __init__(self, every_n_batches: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.every_n_batches = every_n_batches

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = batch_idx + 1
        if done % self.every_n_batches == 0 or done == self.total_train_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss."""


class FiniteLossGuard(Callback):
    """Stop at the first non-finite training loss, naming the step and what usually fixes it.

    Losses are kept as tensors and checked together every `check_every_n_steps` steps and
    before every validation and epoch end, where checkpoints are saved: no NaN weights become
    `last` or `best`, and a GPU is not made to wait for the host every step.
    """

    def __init__(self, check_every_n_steps: int = 50):
        self.check_every_n_steps = check_every_n_steps
        self.pending: list[tuple[int, int, int, torch.Tensor]] = []

    def on_train_batch_end(self, trainer: Trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            step = (trainer.global_step, trainer.current_epoch, batch_idx)
            self.pending.append((*step, loss.detach()))
        if len(self.pending) >= self.check_every_n_steps:
            self.check()

    def check(self) -> None:
        if not self.pending:
            return
        losses = torch.stack([loss.reshape(()) for *_, loss in self.pending])
        bad = (~torch.isfinite(losses)).nonzero()
        pending, self.pending = self.pending, []
        if len(bad):
            step, epoch, batch_idx, loss = pending[int(bad[0])]
            raise NonFiniteLossError(
                f"The training loss became {loss.item()} at step {step} (epoch {epoch}, "
                f"batch {batch_idx}). Lower the learning rate (e.g. model.optimizer.lr=...) or "
                "clip gradients (trainer.gradient_clip_val=1.0)."
            )

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.check()


class TestSetCurve(Callback):
    """The course's curve: official test-set accuracy each time validation runs.

    The course prints it every 500 iterations. It is logged as `test_curve/*` and never used for
    model selection, which stays on `val/acc`.
    """

    def __init__(self, num_classes: int = 10):
        self.num_classes = num_classes

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        accuracy = MulticlassAccuracy(self.num_classes, average="micro").to(pl_module.device)
        loss_sum, count = torch.zeros((), device=pl_module.device), 0
        was_training = pl_module.training
        pl_module.eval()
        with torch.no_grad():
            for x, y in trainer.datamodule.test_dataloader():
                x, y = x.to(pl_module.device), y.to(pl_module.device)
                logits = pl_module(x)
                accuracy.update(logits, y)
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                count += len(y)
        pl_module.train(was_training)
        metrics = {
            "test_curve/acc": accuracy.compute().item(),
            "test_curve/loss": (loss_sum / count).item(),
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        train_loss = trainer.callback_metrics.get("train/loss", float("nan"))
        rprint(
            f"Iteration: {trainer.global_step}. Train loss: {float(train_loss):.4f}. "
            f"Test accuracy: {100 * metrics['test_curve/acc']:.2f} %"
        )


class ReportPredictions(Callback):
    """After testing, print predictions for raw `inputs`, or for every row of a table dataset."""

    def __init__(self, inputs: list | None = None, reference: float | None = None):
        self.inputs, self.reference = inputs, reference

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = trainer.datamodule
        if self.inputs is None:  # the table's own rows, with their true targets
            rows, targets = datamodule.x.tolist(), datamodule.y.tolist()
        else:
            rows, targets = as_rows(self.inputs), None
        Console().print(prediction_table(pl_module, datamodule, rows, targets, self.reference))


class LinearFitReport(Callback):
    """After fitting a linear regression, compare it with the closed-form least-squares solution.

    Both lines are printed in raw units (undoing the datamodule's standardization) and the
    closed form's parameters and loss are logged as `closed_form/*`.
    """

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = trainer.datamodule
        x, y = datamodule.train_set.x, datamodule.train_set.y
        w_closed, b_closed = closed_form_fit(x, y)
        w_sgd = pl_module.linear.weight.detach().cpu().squeeze(0)
        b_sgd = pl_module.linear.bias.detach().cpu().squeeze(0)
        metrics = {
            "closed_form/mse": squared_error(x @ w_closed + b_closed, y).item(),
            "closed_form/b": b_closed.item(),
            **{f"closed_form/w{i + 1}": value for i, value in enumerate(w_closed.tolist())},
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
        names = datamodule.feature_names
        for label, w, b in (("SGD fit", w_sgd, b_sgd), ("closed form", w_closed, b_closed)):
            w_raw = w / datamodule.std
            b_raw = b - (w_raw * datamodule.mean).sum()
            terms = " + ".join(
                f"{wi:.6g} * {n}" for wi, n in zip(w_raw.tolist(), names, strict=True)
            )
            mse = squared_error(x @ w + b, y).item()
            line = f"{datamodule.target_name} = {terms} + {b_raw.item():.6g}"
            rprint(f"{label:>11}: {line}   (mse {mse:.6g})")


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


class GradientFlow(Callback):
    """Log the gradient norm of every linear/conv layer's weight, at initialization (the first
    step) and every `every_n_steps` after, plus the first-layer / last-layer ratio that tells
    vanishing (<< 1) from exploding (>> 1) gradients."""

    def __init__(self, every_n_steps: int = 25):
        self.every_n_steps = every_n_steps
        self.verdict_at_init: str | None = None

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer):
        step = trainer.global_step
        if step % self.every_n_steps:
            return
        norms = [
            module.weight.grad.norm().item()
            for module in pl_module.modules()
            if isinstance(module, torch.nn.Linear | torch.nn.Conv2d)
            and module.weight.grad is not None
        ]
        ratio = norms[0] / max(norms[-1], 1e-30)
        metrics = {f"grad_norm/layer{i + 1:02d}": norm for i, norm in enumerate(norms)}
        metrics["grad_flow/first_over_last"] = ratio
        if step == 0:
            metrics["grad_flow/first_over_last_at_init"] = ratio
            metrics["grad_flow/first_layer_at_init"] = norms[0]
            self.verdict_at_init = (
                f"first layer {norms[0]:.3g}, first/last {ratio:.3g} -> "
                f"{gradient_flow_verdict(ratio, norms[0])}"
            )
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.verdict_at_init:
            rprint(f"Gradient norms at initialization: {self.verdict_at_init}")


class RunStats(Callback):
    """Log the parameter count and the wall time of fitting, for tables that compare runs."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.start = time.perf_counter()

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        metrics = {
            "stats/params": float(sum(p.numel() for p in pl_module.parameters())),
            "stats/fit_seconds": time.perf_counter() - self.start,
        }
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)


class FeatureMaps(Callback):
    """After training, show what the convolutions learned (course part IV): the first layer's
    filters and, for a few test digits, the feature maps after every conv block, as image grids
    in TensorBoard (IMAGES tab) and as PNG files under `<run>/figures/`."""

    def __init__(self, num_images: int = 4, max_channels: int = 16, pixels: int = 56):
        self.num_images, self.max_channels, self.pixels = num_images, max_channels, pixels

    def grid(self, maps: torch.Tensor, nrow: int = 8) -> torch.Tensor:
        """(N, H, W) maps -> one (3, H', W') image, each map scaled to its own range."""
        maps = F.interpolate(maps.unsqueeze(1), size=(self.pixels, self.pixels), mode="nearest")
        return make_grid(maps, nrow=nrow, normalize=True, scale_each=True, padding=2, pad_value=1)

    @torch.no_grad()
    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        out_dir = Path(trainer.default_root_dir) / "figures"
        out_dir.mkdir(parents=True, exist_ok=True)
        images = {}
        first_conv = next(m for m in pl_module.modules() if isinstance(m, torch.nn.Conv2d))
        images["filters/conv1"] = self.grid(first_conv.weight[:, 0].cpu())  # (out, k, k)
        was_training = pl_module.training
        pl_module.eval()
        x = trainer.datamodule.test_set.x[: self.num_images].to(pl_module.device)
        images["feature_maps/input"] = self.grid(x[:, 0].cpu(), nrow=self.num_images)
        for index, block in enumerate(pl_module.features):
            x = block(x)
            for digit in range(len(x)):
                tag = f"feature_maps/block{index + 1}/digit{digit}"
                images[tag] = self.grid(x[digit, : self.max_channels].cpu())
        pl_module.train(was_training)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                for tag, image in images.items():
                    logger.experiment.add_image(tag, image, trainer.global_step)
        for tag, image in images.items():
            save_image(image, out_dir / (tag.replace("/", "_") + ".png"))


class PredictionGrid(Callback):
    """After testing, a grid of test digits titled with the predicted and the true label
    (course part V, "Visualizing prediction made by RNN model"): TensorBoard figure and PNG."""

    def __init__(self, num_images: int = 16, columns: int = 8):
        self.num_images, self.columns = num_images, columns

    @torch.no_grad()
    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        test_set = trainer.datamodule.test_set
        x, y = test_set.x[: self.num_images], test_set.y[: self.num_images]
        predicted = pl_module(x.to(pl_module.device)).argmax(1).cpu()
        rows = math.ceil(len(x) / self.columns)
        figure = Figure(figsize=(1.4 * self.columns, 1.6 * rows))
        axes = figure.subplots(rows, self.columns, squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, image, guess, truth in zip(axes.flat, x, predicted, y, strict=False):
            ax.imshow(image[0].numpy(), cmap="gray_r")
            wrong = guess != truth
            ax.set_title(f"predict: {guess}" + (f" ({truth})" if wrong else ""),
                         fontsize=9, color="red" if wrong else "black")  # fmt: skip
        figure.tight_layout()
        out_dir = Path(trainer.default_root_dir) / "figures"
        out_dir.mkdir(parents=True, exist_ok=True)
        figure.savefig(out_dir / "test_predictions.png", dpi=100)
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_figure("predictions/test", figure, trainer.global_step)


class TextSample(Callback):
    """After training, continue a prompt with the language model: printed, written to
    `<run>/figures/sample.txt` and logged to TensorBoard's TEXT tab."""

    def __init__(self, prompt: str = "It is raining", length: int = 300, temperature: float = 0.8):
        self.prompt, self.length, self.temperature = prompt, length, temperature

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        datamodule = trainer.datamodule
        text = generate(
            pl_module,
            datamodule.vocab,
            datamodule.level,
            self.prompt,
            self.length,
            self.temperature,
        )
        Console().print(
            f"Sample (temperature {self.temperature}):\n{text}", markup=False, highlight=False
        )
        if trainer.is_global_zero:
            out_dir = Path(trainer.default_root_dir) / "figures"
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "sample.txt").write_text(text + "\n")
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                # Markdown: indent by 4 spaces so line breaks survive.
                logger.experiment.add_text(
                    "sample", "    " + text.replace("\n", "\n    "), trainer.global_step
                )
