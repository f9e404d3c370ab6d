"""The course's linear regression: y_hat = X w + b, fitted by minimizing the squared error."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dl101.models.base import Model


def squared_error(y_hat: Tensor, y: Tensor) -> Tensor:
    """The course's loss, sum_i (y_hat_i - y_i)^2, averaged over the n rows as its table does."""
    return ((y_hat - y) ** 2).sum() / y.numel()


def closed_form_fit(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Least squares by the normal equations' stable solver: argmin_{w,b} ||X w + b - y||^2."""
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)  # (N, D + 1)
    solution = torch.linalg.lstsq(design.double(), y.double().unsqueeze(1)).solution.squeeze(1)
    return solution[:-1].to(x.dtype), solution[-1].to(x.dtype)


class LinearRegression(Model):
    monitor = ("val/mse", "min")
    directions = {**Model.directions, "mse": "min"}
    judged_by = ("val/mse", "test/mse", "train/loss_epoch")
    charts = {"mse": ["Multiline", [r"^(train/loss_epoch|val/mse)$"]]}

    def __init__(self, num_features: int, **model_args):
        super().__init__(**model_args)
        self.linear = nn.Linear(num_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).squeeze(-1)  # (B, D) -> (B,)

    def _step(self, batch, stage: str) -> Tensor:
        x, y = batch
        loss = squared_error(self(x), y)
        self.log(f"{stage}/mse", loss, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = squared_error(self(x), y)
        self.log_training(loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._step(batch, "test")
