"""MNIST as in-memory tensors: the official 60k/10k split, a seeded validation part of the 60k,
held on the training device (a GPU, when there is one)."""

from __future__ import annotations

import functools
import os

import torch
from torchvision.datasets import MNIST

from dl101.data.augment import BatchRandomAffine
from dl101.data.base import DataModule
from dl101.data.batching import TensorBatches, tensor_loader, training_device
from dl101.data.images import mnist_like
from dl101.data.sources import MNIST_MD5, ensure_mnist, raw_dir, verify
from dl101.errors import ConfigError


@functools.lru_cache(maxsize=4)
def _read_raw(data_dir: str, train: bool, stamp: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    raw = MNIST(data_dir, train=train, download=False)
    return raw.data, raw.targets


def raw_mnist(data_dir: str, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's pixels (N, 28, 28) uint8 and labels, read once per process while the files
    stay as they were: the jobs of a sweep share them. Never modify them in place."""
    prefix = "train" if train else "t10k"
    stamp = tuple(
        (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        for name in MNIST_MD5
        if name.startswith(prefix)
        for stat in [os.stat(raw_dir(data_dir) / name)]
    )
    return _read_raw(str(data_dir), train, stamp)


class MNISTDataModule(DataModule):
    """Images as float tensors (B, 1, 28, 28) scaled to [0, 1], optionally standardized."""

    input_shape = (1, 28, 28)
    class_names = [str(digit) for digit in range(10)]
    target_name = "digit"

    def __init__(
        self,
        data_dir: str,
        source: str = "auto",
        val_size: int = 5000,
        split_seed: int = 12345,
        train_subset: int | None = None,
        val_subset: int | None = None,
        train_slice: list[int] | None = None,
        val_slice: list[int] | None = None,
        augment: dict | None = None,
        eval_train_set: bool = False,
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        normalize: bool = True,
        mean: float = 0.1307,
        std: float = 0.3081,
        num_workers: int = 0,
        keep_on_device: bool = True,
    ):
        super().__init__()
        for name, value in (("batch_size", batch_size), ("eval_batch_size", eval_batch_size)):
            if value <= 0:
                raise ConfigError(f"data.{name}={value}: must be a positive integer")
        if not 0 < val_size < 60000:
            raise ConfigError(f"data.val_size={val_size}: must be between 1 and 59999 (of 60k)")
        self.data_dir, self.source = data_dir, source
        self.val_size, self.split_seed = val_size, split_seed
        self.train_subset, self.val_subset = train_subset, val_subset
        self.slices = check_slices(train_slice, val_slice)
        self.eval_train_set = eval_train_set
        # Augmented pixels outside the image get the value a black pixel has after scaling.
        black = -mean / std if normalize else 0.0
        self.augmenter = BatchRandomAffine(**augment, fill=black) if augment else None
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.normalize, self.mean, self.std = normalize, mean, std
        self.num_workers, self.keep_on_device = num_workers, keep_on_device
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        ensure_mnist(self.data_dir, self.source)

    def model_args(self) -> dict:
        return {"input_shape": list(self.input_shape), "num_classes": len(self.class_names)}

    def read_picture(self, path) -> torch.Tensor:
        """A picture of a digit brought to MNIST's own format (dl101.data.images)."""
        return mnist_like(path)

    def transform(self, pixels: torch.Tensor) -> torch.Tensor:
        """Raw pixel values 0..255, (N, 1, 28, 28) -> model inputs, scaled as ToTensor does."""
        x = pixels.float().div_(255)
        return x.sub_(self.mean).div_(self.std) if self.normalize else x

    def split_indices(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Train and validation indices into the official 60k: the given slices, or a random
        split fixed by `split_seed`, then the optional subsets."""
        if self.slices:
            train_idx, val_idx = (torch.arange(start, stop) for start, stop in self.slices)
        else:
            order = torch.randperm(60000, generator=torch.Generator().manual_seed(self.split_seed))
            train_idx, val_idx = order[self.val_size :], order[: self.val_size]
        for name, size, idx in (
            ("train", self.train_subset, train_idx),
            ("val", self.val_subset, val_idx),
        ):
            if size is not None and not 0 < size <= len(idx):
                raise ConfigError(f"data.{name}_subset={size}: must be between 1 and {len(idx)}")
        return train_idx[: self.train_subset], val_idx[: self.val_subset]

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            verify(self.data_dir)  # setup never downloads; prepare_data does
            pixels, labels = raw_mnist(self.data_dir, train=True)
            train_idx, val_idx = self.split_indices()
            for name, idx in (("train_set", train_idx), ("val_set", val_idx)):
                x = self.transform(pixels[idx].unsqueeze(1))  # only the images this run uses
                setattr(self, name, TensorBatches(x, labels[idx]))
            pixels, labels = raw_mnist(self.data_dir, train=False)
            self.test_set = TensorBatches(self.transform(pixels.unsqueeze(1)), labels.clone())
        if self.keep_on_device:  # a GPU then slices batches itself: no copy per step
            device = training_device(self)
            for data in (self.train_set, self.val_set, self.test_set):
                data.to(device)

    def train_dataloader(self):
        return tensor_loader(self.train_set, self.batch_size, True, self.num_workers, self)

    def val_dataloader(self):
        val = tensor_loader(self.val_set, self.eval_batch_size, False, self.num_workers)
        if not self.eval_train_set:
            return val
        # A second loader: accuracy on the whole training set in eval mode, as the course plots.
        return [val, tensor_loader(self.train_set, self.eval_batch_size, False, self.num_workers)]

    def test_dataloader(self):
        return tensor_loader(self.test_set, self.eval_batch_size, False, self.num_workers)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if self.augmenter is None or self.trainer is None or not self.trainer.training:
            return batch
        if not isinstance(batch, list | tuple):  # a model summary's example input, not (x, y)
            return batch
        x, y = batch
        return self.augmenter(x), y


def check_slices(train_slice, val_slice) -> list[tuple[int, int]] | None:
    """Both or neither; each [start, stop) within the 60k, and the two disjoint."""
    if train_slice is None and val_slice is None:
        return None
    if train_slice is None or val_slice is None:
        raise ConfigError("data.train_slice and data.val_slice must be given together")
    slices = []
    for name, value in (("train_slice", train_slice), ("val_slice", val_slice)):
        start, stop = value
        if not 0 <= start < stop <= 60000:
            raise ConfigError(f"data.{name}={list(value)}: need 0 <= start < stop <= 60000")
        slices.append((start, stop))
    (a, b), (c, d) = slices
    if a < d and c < b:
        raise ConfigError(
            f"data.train_slice={list(train_slice)} overlaps data.val_slice={list(val_slice)}"
        )
    return slices
