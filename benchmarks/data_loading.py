"""Time one MNIST training epoch of data handling: dl101's in-memory batches vs the course's
`torchvision.datasets.MNIST(transform=ToTensor())` + DataLoader. Both runs interleaved, median of N.

    python -m benchmarks.data_loading [--batch-size 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from dl101 import PROJECT_ROOT
from dl101.data import MNISTDataModule


def epoch_seconds(loader) -> float:
    start = time.perf_counter()
    for x, y in loader:
        x.sum(), y.sum()  # touch the batch as a model would
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT / "data"))
    args = parser.parse_args()
    torch.manual_seed(0)

    datamodule = MNISTDataModule(args.data_dir, batch_size=args.batch_size, val_size=5000)
    datamodule.prepare_data()
    datamodule.setup("fit")
    course = datasets.MNIST(args.data_dir, train=True, transform=transforms.ToTensor())
    loaders = {
        "dl101 in-memory tensors (55k train)": datamodule.train_dataloader(),
        "course ToTensor DataLoader (60k)": DataLoader(course, args.batch_size, shuffle=True),
    }
    times: dict[str, list[float]] = {name: [] for name in loaders}
    for _ in range(args.repeats):
        for name, loader in loaders.items():
            times[name].append(epoch_seconds(loader))

    table = Table(title=f"One MNIST epoch of data handling, batch {args.batch_size}")
    for column in ("pipeline", "median s/epoch", "samples/s"):
        table.add_column(column, justify="right" if column != "pipeline" else "left")
    rates = {}
    for name, values in times.items():
        seconds = statistics.median(values)
        rates[name] = len(loaders[name].dataset) / seconds
        table.add_row(name, f"{seconds:.3f}", f"{rates[name]:,.0f}")
    console = Console()
    console.print(table)
    ours, theirs = rates.values()
    console.print(f"Per sample, in-memory batches are {ours / theirs:.0f}x faster than ToTensor.")


if __name__ == "__main__":
    main()
