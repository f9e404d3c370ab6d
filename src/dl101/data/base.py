"""What a dl101 datamodule provides: the contract every built-in one keeps, and one's own must.

Subclass `DataModule` (a LightningDataModule) for a dataset of your own, in a file of your own:
train, evaluate, predict, sweeps and their summaries then work for it unchanged. It provides

- the LightningDataModule hooks: `prepare_data()` obtains the raw data once (downloads where
  online, checks it), `setup(stage)` reads it (never downloads), and the `train_dataloader`,
  `val_dataloader` and `test_dataloader`;
- `model_args()`: what the model needs to know of the data, by constructor-argument name:
  `input_shape` (one example's shape), `num_classes` (a classifier's), `num_features` (a
  regression's inputs), `vocab_size` (a language model's). A model receives those its
  constructor names, so model configs hold no shapes and `data=` swaps without a model override;
- `transform(raw)`: raw inputs, (N, *input_shape) as a user gives them to `dl101.predict`, to
  what the model reads (the scaling or standardization of training);
- `class_names` (a classifier's classes, in label order), `feature_names` and `target_name`
  (how predictions are labelled);
- `state_dict()` / `load_state_dict()`: what a checkpoint must keep to read new inputs as the
  training did (standardization statistics, a vocabulary), under the class's name;
- `paths`: the names of its constructor's arguments that are files or folders, made absolute
  when a run starts (its checkpoint then finds them from any working directory);
- for pictures, `read_picture(path)`: one image file as raw inputs of `input_shape`.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import torch
from pytorch_lightning import LightningDataModule

from dl101.errors import InputError, locate


class DataModule(LightningDataModule):
    class_names: list[str] | None = None
    paths: tuple[str, ...] = ()
    feature_names: list[str] | None = None
    target_name: str = "class"

    def model_args(self) -> dict:
        """Constructor arguments of the model that only the data knows (see the module)."""
        raise NotImplementedError(f"{type(self).__name__} must say what the model needs to know")

    def transform(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw inputs (N, *input_shape) -> what the model reads."""
        return raw

    def read_picture(self, path: Path) -> torch.Tensor:
        """One picture as raw inputs of `input_shape`; only datamodules of images read them."""
        raise InputError(
            f"input={path}: this checkpoint's data ({type(self).__name__}) are not pictures; "
            "give its raw values instead, input=[...]"
        )


def model_args(datamodule, model_cfg) -> dict:
    """What `datamodule` tells the model `model_cfg` instantiates: the entries of its
    `model_args()` that the model's constructor names."""
    if not hasattr(datamodule, "model_args"):
        raise TypeError(
            f"data: {type(datamodule).__name__} has no model_args(): subclass "
            "dl101.data.DataModule (its docstring says what a datamodule provides)"
        )
    parameters = inspect.signature(locate(model_cfg._target_, "model._target_")).parameters
    return {name: value for name, value in datamodule.model_args().items() if name in parameters}
