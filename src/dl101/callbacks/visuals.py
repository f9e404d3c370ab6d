"""What the course shows after training: its predictions table, the linear fit beside the
closed form (part II), feature maps (part IV), a grid of predicted digits and a text sample
(part V)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from pytorch_lightning import Callback, LightningModule, Trainer
from rich import print as rprint
from rich.console import Console
from torchvision.utils import make_grid, save_image

from dl101.callbacks.outputs import figures_dir, log_metrics, tensorboard_writers
from dl101.models.linear_regression import closed_form_fit, squared_error
from dl101.run.inference import as_rows, generate, prediction_table


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
        log_metrics(trainer, {
            "closed_form/mse": squared_error(x @ w_closed + b_closed, y).item(),
            "closed_form/b": b_closed.item(),
            **{f"closed_form/w{i + 1}": value for i, value in enumerate(w_closed.tolist())},
        })  # fmt: skip
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
        for writer in tensorboard_writers(trainer):
            for tag, image in images.items():
                writer.add_image(tag, image, trainer.global_step)
        out_dir = figures_dir(trainer)
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
        figure.savefig(figures_dir(trainer) / "test_predictions.png", dpi=100)
        for writer in tensorboard_writers(trainer):
            writer.add_figure("predictions/test", figure, trainer.global_step)


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
            (figures_dir(trainer) / "sample.txt").write_text(text + "\n")
        for writer in tensorboard_writers(trainer):
            # Markdown: indent by 4 spaces so line breaks survive.
            writer.add_text("sample", "    " + text.replace("\n", "\n    "), trainer.global_step)
