"""Batches from tensors already in memory (host or GPU): one gather per batch, no per-sample
Python, no collate, and with the data on a GPU no host-to-device copy per step."""

from __future__ import annotations

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, SequentialSampler

from dl101.errors import ConfigError
from dl101.internals import batches_done_this_epoch


class TensorBatches(Dataset):
    """Features and targets held as tensors; `__getitems__` gathers a whole batch at once.

    A plain DataLoader (and Lightning's distributed sampler) can drive it, because the batch
    sampler hands `__getitems__` the batch's indices as one tensor.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        if len(x) != len(y):
            raise ValueError(f"features ({len(x)}) and targets ({len(y)}) differ in length")
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    def __getitems__(self, indices):
        # index_select gathers rows about twice as fast as x[index] on a CPU.
        index = torch.as_tensor(indices).to(self.x.device, non_blocking=True)
        return self.x.index_select(0, index), self.y.index_select(0, index)

    def to(self, device: torch.device | str) -> TensorBatches:
        self.x, self.y = self.x.to(device), self.y.to(device)
        return self


def keep_batch(batch):
    """collate_fn for datasets whose `__getitems__` returns the batch already stacked."""
    return batch


class EpochShuffleSampler(Sampler[int]):
    """A new random order every epoch that depends only on (seed, epoch), not on the global RNG:
    a run resumed from a checkpoint sees the same batches as one that never stopped.
    Lightning calls `set_epoch` at every epoch start."""

    def __init__(self, size: int, seed: int | None = None):
        self.size = size
        self.seed = torch.initial_seed() if seed is None else seed  # = the run's seed_everything
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def order(self) -> torch.Tensor:
        # Modulo 2**63: an unseeded run's initial_seed() is a full 64-bit number.
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        return torch.randperm(self.size, generator=generator)

    def __iter__(self):
        return iter(self.order().tolist())


class IndexBatchSampler(BatchSampler):
    """Batches of indices as tensors on `device`: the epoch's order is built (and, for a GPU,
    copied) once per epoch and every batch is a slice of it.

    It keeps BatchSampler's signature, so Lightning can swap `sampler` for a distributed one.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool = False, device="cpu", done=None):
        super().__init__(sampler, batch_size, drop_last)
        self.device = torch.device(device)
        self.done = done  # () -> batches of this epoch already done (a mid-epoch resume)

    def __iter__(self):
        if isinstance(self.sampler, EpochShuffleSampler):
            order = self.sampler.order()
        elif isinstance(self.sampler, SequentialSampler):
            order = torch.arange(len(self.sampler))
        else:  # e.g. Lightning's DistributedSamplerWrapper
            order = torch.as_tensor(list(self.sampler), dtype=torch.long)
        order = order.to(self.device)
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        first = self.done() * self.batch_size if self.done else 0
        for start in range(first, stop, self.batch_size):
            yield order[start : start + self.batch_size]


def tensor_loader(
    data, batch_size: int, shuffle: bool, num_workers: int = 0, datamodule=None
) -> DataLoader:
    """A DataLoader over a dataset with `__getitems__` and tensors `x`, on the device of `x`;
    given the training `datamodule`, a resumed run skips the batches its epoch had done."""
    sampler = EpochShuffleSampler(len(data)) if shuffle else SequentialSampler(data)
    device = data.x.device
    done = (lambda: batches_done_this_epoch(datamodule.trainer)) if datamodule else None
    if num_workers and device.type != "cpu":
        raise ConfigError(
            f"data.num_workers={num_workers} with the data on {device}: worker processes cannot "
            "share GPU tensors; use data.num_workers=0 or data.keep_on_device=false"
        )
    return DataLoader(
        data,
        batch_sampler=IndexBatchSampler(sampler, batch_size, device=device, done=done),
        collate_fn=keep_batch,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def training_device(datamodule) -> torch.device:
    """Where the trainer computes (a rank's own GPU under DDP); the CPU outside a trainer."""
    trainer = getattr(datamodule, "trainer", None)
    return trainer.strategy.root_device if trainer is not None else torch.device("cpu")
