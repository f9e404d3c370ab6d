"""One's own pictures, a folder per class: torchvision's ImageFolder layout
(`root/<class>/<image>`), read once into memory as tensors like MNIST, a seeded part of them
held out for validation; tested on `test_root` when there is one. The pictures are read as they
are: gray files give one channel, colour files three, and nothing is converted without a word."""

from __future__ import annotations

import collections
import logging
from pathlib import Path
from typing import NamedTuple

import torch
from pytorch_lightning.utilities import rank_zero_only
from torchvision import datasets
from torchvision.transforms import v2

from dl101.data.base import DataModule
from dl101.data.batching import TensorBatches, tensor_loader, training_device
from dl101.data.images import load_picture, picture_mode, unreadable
from dl101.errors import ConfigError, InputError

log = logging.getLogger(__name__)


@rank_zero_only
def say(line: str) -> None:
    """One line for the user, once (not from every process of a multi-GPU run)."""
    log.info(line)


class Folder(NamedTuple):
    """A folder of class folders as scanned: its images (path, label), its classes, and how
    many of its files are in each PIL mode, of which how many are gray."""

    samples: list[tuple[str, int]]
    classes: list[str]
    modes: collections.Counter
    gray: int


class ImageFolderDataModule(DataModule):
    """Images as float tensors (B, C, H, W): resized to `size`, in as many channels as the
    training folder's files have (gray: 1, colour: 3; `grayscale` true or false sets it),
    scaled to [0, 1] and standardized with the training part's per-channel mean and std (kept
    in checkpoints, with the channels and the classes). Class names are the folder names, in
    sorted order, as ImageFolder reads them. A file that is not a readable image is refused in
    one line, or skipped and counted with `skip_unreadable`."""

    paths = ("root", "test_root")  # made absolute when a run starts: found from anywhere

    def __init__(
        self,
        root: str,
        test_root: str | None = None,
        size: list[int] = (28, 28),
        grayscale: bool | None = None,
        skip_unreadable: bool = False,
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
        self.skip_unreadable = skip_unreadable
        self.val_fraction, self.split_seed = val_fraction, split_seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.keep_on_device = keep_on_device
        self.saved_channels: int | None = None  # a checkpoint's, restored by load_state_dict
        self.mean = self.std = None  # the training part's, once read (or restored)
        self.scanned: dict[Path, Folder] = {}
        self.train_set = self.val_set = self.test_set = None

    @property
    def channels(self) -> int:
        """1 or 3: as `grayscale` says, else as a checkpoint saved it, else as the training
        folder's files are (gray if every one is)."""
        if self.grayscale is not None:
            return 1 if self.grayscale else 3
        if self.saved_channels is not None:
            return self.saved_channels
        folder = self.folder(self.root)
        return 1 if folder.gray == folder.modes.total() else 3

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, *self.size)

    def picture_transform(self) -> v2.Compose:
        """A loaded image (in the run's mode) -> (C, H, W) uint8 pixels of the configured size."""
        return v2.Compose([v2.Resize(self.size, antialias=True), v2.PILToTensor()])

    def folder(self, root: Path, key: str = "data.root") -> Folder:
        """The folder's images and classes (ImageFolder's listing) and each file's mode from its
        header, scanned once; files that are not images refused, or skipped and counted."""
        if root in self.scanned:
            return self.scanned[root]
        if not root.is_dir():
            raise InputError(f"{key}={root}: no such folder (give a folder of class folders)")
        try:
            listing = datasets.ImageFolder(str(root))
        except FileNotFoundError as err:  # ImageFolder's: no class folder, or no image in one
            raise InputError(f"{key}={root}: {err}") from None
        samples, modes, gray, bad = [], collections.Counter(), 0, []
        for path, label in listing.samples:
            try:
                mode, is_gray = picture_mode(Path(path))
            except OSError as err:  # PIL's UnidentifiedImageError is one
                bad.append(unreadable(Path(path), err))
                continue
            samples.append((path, label))
            modes[mode] += 1
            gray += is_gray
        self.refuse_or_skip(bad, root, key)
        self.scanned[root] = Folder(samples, listing.classes, modes, gray)
        self.say_conversion(self.scanned[root], root, key)
        return self.scanned[root]

    def refuse_or_skip(self, bad: list[str], root: Path, key: str) -> None:
        if not bad:
            return
        if not self.skip_unreadable:
            more = f" (and {len(bad) - 1} more such files)" if len(bad) > 1 else ""
            raise InputError(
                f"{key}={root}: {bad[0]}{more}: remove it, or skip such files with "
                "data.skip_unreadable=true"
            )
        say(f"{key}={root}: skipped {len(bad)} files that are not readable images ({bad[0]})")

    def say_conversion(self, folder: Folder, root: Path, key: str) -> None:
        """One line where images are converted: a folder of gray and colour files, or files
        read in other channels than their own because `grayscale` says so."""
        counts = ", ".join(f"{n} {mode}" for mode, n in folder.modes.most_common())
        total, channels = folder.modes.total(), self.channels
        target = "gray (1 channel)" if channels == 1 else "RGB (3 channels)"
        converted = folder.gray if channels == 3 else total - folder.gray
        if not converted:
            return
        why = "as data.grayscale says" if self.grayscale is not None else (
            "the folder mixes gray and colour; data.grayscale=true reads all as gray"
        )  # fmt: skip
        say(f"{key}={root}: images by mode: {counts}; {converted} of {total} read as {target}, "
            f"{why}")  # fmt: skip

    def read(self, root: Path, key: str = "data.root"):
        """Every image of `root` as (N, C, H, W) uint8 pixels, its labels and the classes."""
        folder = self.folder(root, key)
        mode, transform = ("L" if self.channels == 1 else "RGB"), self.picture_transform()
        pixels, labels, bad = [], [], []
        for path, label in folder.samples:
            try:
                pixels.append(transform(load_picture(Path(path), mode)))
            except OSError as err:  # a file whose header reads, but not its pixels (truncated)
                bad.append(unreadable(Path(path), err))
                continue
            labels.append(label)
        self.refuse_or_skip(bad, root, key)
        return torch.stack(pixels), torch.tensor(labels), folder.classes

    def restored(self) -> bool:
        """Whether a checkpoint's state was loaded: its statistics and classes are known."""
        return self.mean is not None and self.class_names is not None

    def prepare_data(self) -> None:
        # Refused now, in one line, if it is not a folder of classes; a checkpoint tested on
        # its test folder needs that folder alone.
        if self.restored() and self.test_root is not None:
            self.folder(self.test_root, "data.test_root")
        else:
            self.folder(self.root)

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
        if self.mean is None:  # neither read nor restored: no statistics to standardize with
            return x
        return (x - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)

    def read_training_folder(self) -> None:
        """The training and validation parts of `root`, and the training part's statistics."""
        pixels, labels, self.class_names = self.read(self.root)
        train_idx, val_idx = self.split_indices(len(labels))
        scaled = pixels[train_idx].float() / 255
        self.mean = scaled.mean(dim=(0, 2, 3))
        self.std = scaled.std(dim=(0, 2, 3)).clamp(min=1e-6)
        x = self.transform(pixels)
        self.train_set = TensorBatches(x[train_idx], labels[train_idx])
        self.val_set = TensorBatches(x[val_idx], labels[val_idx])
        names = ", ".join(f"{name}={i}" for i, name in enumerate(self.class_names[:20]))
        names += ", ..." * (len(self.class_names) > 20)
        say(
            f"data.root={self.root}: {len(labels)} images, {len(self.class_names)} classes "
            f"({names}), {self.channels} channel{'s' * (self.channels > 1)}"
        )

    def read_test_folder(self) -> TensorBatches:
        test_pixels, test_labels, classes = self.read(self.test_root, "data.test_root")
        if classes != self.class_names:
            raise InputError(
                f"data.test_root={self.test_root}: its classes {classes} are not "
                f"data.root's {self.class_names}"
            )
        return TensorBatches(self.transform(test_pixels), test_labels)

    def setup(self, stage: str | None = None) -> None:
        # Testing a checkpoint on test_root needs only that folder: the statistics, the
        # channels and the classes come from the checkpoint.
        test_only = stage == "test" and self.test_root is not None and self.restored()
        if self.train_set is None and not test_only:
            self.read_training_folder()
        if self.test_set is None:
            # no test folder: the held-out part is all there is to test on
            self.test_set = self.read_test_folder() if self.test_root else self.val_set
        if self.keep_on_device:
            device = training_device(self)
            sets = (self.train_set, self.val_set, self.test_set)
            for data in {id(d): d for d in sets if d is not None}.values():
                data.to(device)

    def read_picture(self, path: Path) -> torch.Tensor:
        try:
            image = load_picture(Path(path), "L" if self.channels == 1 else "RGB")
        except OSError as err:
            raise InputError(f"input={unreadable(Path(path), err)}") from None
        return self.picture_transform()(image)

    def state_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "classes": self.class_names,
                "channels": self.channels}  # fmt: skip

    def load_state_dict(self, state_dict: dict) -> None:
        self.mean, self.std = torch.tensor(state_dict["mean"]), torch.tensor(state_dict["std"])
        self.class_names = state_dict["classes"]
        # Checkpoints from before channels were saved: their config's grayscale says it.
        self.saved_channels = state_dict.get("channels", len(state_dict["mean"]))

    def train_dataloader(self):
        return tensor_loader(self.train_set, self.batch_size, True, datamodule=self)

    def val_dataloader(self):
        return tensor_loader(self.val_set, self.eval_batch_size, False)

    def test_dataloader(self):
        return tensor_loader(self.test_set, self.eval_batch_size, False)
