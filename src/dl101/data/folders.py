"""One's own pictures, a folder per class: torchvision's ImageFolder layout
(`root/<class>/<image>`), read once into memory as tensors like MNIST, a seeded part of them
held out for validation; tested on `test_root` when there is one."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision import datasets
from torchvision.transforms import v2

from dl101.data.base import DataModule
from dl101.data.batching import TensorBatches, tensor_loader, training_device
from dl101.errors import ConfigError, InputError


class ImageFolderDataModule(DataModule):
    """Images as float tensors (B, C, H, W): resized to `size`, in gray (`grayscale`) or RGB,
    scaled to [0, 1] and standardized with the training part's per-channel mean and std (kept
    in checkpoints). Class names are the folder names, in sorted order, as ImageFolder reads."""

    def __init__(
        self,
        root: str,
        test_root: str | None = None,
        size: list[int] = (28, 28),
        grayscale: bool = True,
        val_fraction: float = 0.2,
        split_seed: int = 0,
        batch_size: int = 64,
        eval_batch_size: int = 512,
        keep_on_device: bool = True,
    ):
        super().__init__()
        if not 0 < val_fraction < 1:
            raise ConfigError(f"data.val_fraction={val_fraction}: must be between 0 and 1")
        self.root, self.test_root = Path(root), Path(test_root) if test_root else None
        self.size, self.grayscale = list(size), grayscale
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.keep_on_device = keep_on_device
        self.channels = 1 if grayscale else 3
        self.mean = torch.zeros(self.channels)
        self.std = torch.ones(self.channels)
        self.train_set = self.val_set = self.test_set = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, *self.size)

    def picture_transform(self) -> v2.Compose:
        """A file's image (read as RGB, as ImageFolder reads it) -> (C, H, W) uint8 pixels of
        the configured size."""
        gray = [v2.Grayscale(1)] if self.grayscale else []
        return v2.Compose([*gray, v2.Resize(self.size, antialias=True), v2.PILToTensor()])

    def folder(self, root: Path) -> datasets.ImageFolder:
        if not root.is_dir():
            raise InputError(f"data.root={root}: no such folder (give a folder of class folders)")
        try:
            return datasets.ImageFolder(str(root), transform=self.picture_transform())
        except FileNotFoundError as err:  # ImageFolder's: no class folder, or no image in one
            raise InputError(f"data.root={root}: {err}") from None

    def read(self, root: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """Every image of `root` as (N, C, H, W) uint8 pixels, its labels and the classes."""
        data = self.folder(root)
        pixels = torch.stack([image for image, _ in data])
        return pixels, torch.tensor(data.targets), data.classes

    def prepare_data(self) -> None:
        self.folder(self.root)  # refused now, in one line, if it is not a folder of classes

    def model_args(self) -> dict:
        if self.class_names is None:
            self.class_names = self.folder(self.root).classes
        return {"input_shape": list(self.input_shape), "num_classes": len(self.class_names)}

    def split_indices(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.split_seed))
        n_val = max(1, round(self.val_fraction * n))
        return order[n_val:], order[:n_val]

    def transform(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw pixels 0..255, (N, C, H, W) -> standardized model inputs."""
        x = raw.float() / 255
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            pixels, labels, self.class_names = self.read(self.root)
            train_idx, val_idx = self.split_indices(len(labels))
            scaled = pixels[train_idx].float() / 255
            self.mean = scaled.mean(dim=(0, 2, 3))
            self.std = scaled.std(dim=(0, 2, 3)).clamp(min=1e-6)
            x = self.transform(pixels)
            self.train_set = TensorBatches(x[train_idx], labels[train_idx])
            self.val_set = TensorBatches(x[val_idx], labels[val_idx])
            if self.test_root is not None:
                test_pixels, test_labels, classes = self.read(self.test_root)
                if classes != self.class_names:
                    raise InputError(
                        f"data.test_root={self.test_root}: its classes {classes} are not "
                        f"data.root's {self.class_names}"
                    )
                self.test_set = TensorBatches(self.transform(test_pixels), test_labels)
            else:  # no test folder: the held-out part is all there is to test on
                self.test_set = self.val_set
        if self.keep_on_device:
            device = training_device(self)
            for data in {id(d): d for d in (self.train_set, self.val_set, self.test_set)}.values():
                data.to(device)

    def read_picture(self, path: Path) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return self.picture_transform()(image.convert("RGB"))
        except (UnidentifiedImageError, OSError) as err:
            raise InputError(f"input={path}: not an image that can be read ({err})") from None

    def state_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "classes": self.class_names}

    def load_state_dict(self, state_dict: dict) -> None:
        self.mean, self.std = torch.tensor(state_dict["mean"]), torch.tensor(state_dict["std"])
        self.class_names = state_dict["classes"]

    def train_dataloader(self):
        return tensor_loader(self.train_set, self.batch_size, True, datamodule=self)

    def val_dataloader(self):
        return tensor_loader(self.val_set, self.eval_batch_size, False)

    def test_dataloader(self):
        return tensor_loader(self.test_set, self.eval_batch_size, False)
