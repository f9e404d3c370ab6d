"""Small tables held in memory: the course's house tables and synthetic linear-regression data."""

from __future__ import annotations

import torch

from dl101.data.base import DataModule
from dl101.data.batching import TensorBatches, tensor_loader
from dl101.errors import ConfigError


class TableDataModule(DataModule):
    """Rows of features with a real-valued (regression) or class-index (classification) target.

    Features are standardized with statistics of the training rows only; the statistics are part
    of `state_dict`, so a checkpoint can turn raw inputs into model inputs (`transform`).
    Every stage sees all rows unless `val_fraction` holds some out (the course's tables have 3 and
    10 rows: the course fits and reports on the same rows).
    """

    def __init__(
        self,
        features: list[list[float]],
        targets: list[float | str],
        task: str,
        feature_names: list[str] | None = None,
        class_names: list[str] | None = None,
        target_name: str = "y",
        standardize: bool = True,
        val_fraction: float = 0.0,
        split_seed: int = 0,
        batch_size: int = 0,
    ):
        super().__init__()
        if task not in ("regression", "classification"):
            raise ConfigError(f"data.task={task!r}: choose regression or classification")
        if len(features) != len(targets) or not features:
            raise ConfigError(
                f"data.features has {len(features)} rows, data.targets {len(targets)}: "
                "they must be equal and non-zero"
            )
        if not 0 <= val_fraction < 1:
            raise ConfigError(f"data.val_fraction={val_fraction}: must be in [0, 1)")
        self.task = task
        target_dtype = torch.float32 if task == "regression" else torch.long
        self.x = torch.tensor(features, dtype=torch.float32)  # (N, D)
        if task == "classification" and class_names:
            targets = [class_names.index(t) if isinstance(t, str) else t for t in targets]
        self.y = torch.tensor(targets, dtype=target_dtype)  # (N,)
        self.feature_names = feature_names or [f"x{i + 1}" for i in range(self.x.shape[1])]
        self.class_names, self.target_name = class_names, target_name
        self.standardize, self.val_fraction, self.split_seed = standardize, val_fraction, split_seed
        self.batch_size = batch_size if batch_size > 0 else len(self.y)  # 0: full batch
        self.mean = torch.zeros(self.x.shape[1])
        self.std = torch.ones(self.x.shape[1])
        self.train_set = self.val_set = None

    @property
    def input_shape(self) -> tuple[int]:
        return (self.x.shape[1],)

    def model_args(self) -> dict:
        """Its features' count, and for classification the number of classes."""
        args = {"input_shape": list(self.input_shape), "num_features": self.x.shape[1]}
        if self.task == "classification":
            classes = len(self.class_names) if self.class_names else int(self.y.max()) + 1
            args["num_classes"] = classes
        return args

    def split_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        n_val = round(self.val_fraction * len(self.y))
        if n_val == 0:
            every = torch.arange(len(self.y))
            return every, every
        generator = torch.Generator().manual_seed(self.split_seed)
        order = torch.randperm(len(self.y), generator=generator)
        return order[n_val:], order[:n_val]

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """Raw feature rows (N, D) -> what the model sees."""
        return (x - self.mean) / self.std

    def setup(self, stage: str | None = None) -> None:
        train_idx, val_idx = self.split_indices()
        if self.standardize:
            self.mean = self.x[train_idx].mean(0)
            std = self.x[train_idx].std(0, unbiased=False)
            self.std = torch.where(std > 0, std, torch.ones_like(std))  # constant column: unscaled
        x = self.transform(self.x)
        self.train_set = TensorBatches(x[train_idx], self.y[train_idx])
        self.val_set = TensorBatches(x[val_idx], self.y[val_idx])

    def state_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.mean = torch.tensor(state_dict["mean"])
        self.std = torch.tensor(state_dict["std"])

    def train_dataloader(self):
        return tensor_loader(self.train_set, self.batch_size, True, 0, self)

    def val_dataloader(self):
        return tensor_loader(self.val_set, len(self.val_set), False, 0)

    def test_dataloader(self):
        return self.val_dataloader()


class SyntheticRegression(TableDataModule):
    """y = X w + b + noise, with known w and b: a regressor should recover them."""

    def __init__(
        self,
        weights: list[float],
        bias: float,
        noise: float,
        num_samples: int,
        seed: int = 0,
        **table_args,
    ):
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(num_samples, len(weights), generator=generator)
        y = x @ torch.tensor(weights) + bias + noise * torch.randn(num_samples, generator=generator)
        super().__init__(features=x.tolist(), targets=y.tolist(), task="regression", **table_args)
