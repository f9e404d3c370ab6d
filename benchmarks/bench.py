"""`make bench`, or `python -m benchmarks.bench` from the checkout: training throughput of every
course model, four ways side by side in one process per model:

  (a) plain:     a hand-written PyTorch loop over preloaded tensors (randperm, `x[idx]`): the
                 reference;
  (b) lightning: `dl101.run.training.train` with the project's default config, as users run it
                 (logging, progress bar drawn as on a terminal, checkpointing on);
  (b0) bare:     the same Lightning run with no callbacks, logger or progress bar: what
                 Lightning itself costs;
  (c) course:    the course's `torchvision.datasets.MNIST(transform=ToTensor())` + DataLoader
                 pipeline under the same model and optimizer.

Each way trains the same steps with the same batch size and data, interleaved and repeated;
the median is reported, with peak memory and the FLOP bound (training FLOPs per sample against
this machine's measured matmul FLOP/s at the same thread count).

With --commands (on in `make bench`), a second table times whole commands as typed: `--help`,
course runs (fit apart from the rest), the regularization sweep (`benchmarks.command_timing`);
with --stacked (on in `make bench`), a third compares stacked sweeps with the launchers that
train one job at a time (`benchmarks.stacked_sweeps`).

    python -m benchmarks.bench [--models mlp cnn ...] [--repeats 3] [--scale 1.0] [--commands]
        [--stacked]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from pytorch_lightning import Callback
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision import datasets, transforms

from benchmarks import stacked_sweeps
from benchmarks.command_timing import COMMAND_COLUMNS, command_cells, command_rows
from dl101 import PROJECT_ROOT
from dl101.data import model_args
from dl101.data.batching import TensorBatches
from dl101.models.rnn import RNNLanguageModel, detach_state
from dl101.results.tables import fmt, markdown_table
from dl101.run.config import compose_config
from dl101.run.threads import fastest_threads
from dl101.run.training import train


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    overrides: tuple[str, ...]
    steps: int  # timed steps per measurement at --scale 1
    has_course_pipeline: bool = True  # the char LM reads text, not torchvision's MNIST


CASES = (
    Case("softmax", "softmax (course_logreg)", ("experiment=course_logreg",), 400),
    Case("mlp", "MLP 784-50-20-10", ("model=mlp",), 300),
    Case("lenet", "LeNet-5", ("experiment=lenet_mnist",), 100),
    Case("cnn", "CNN (cnn_mnist)", ("experiment=cnn_mnist",), 30),
    Case("rnn", "RNN (course_rnn)", ("experiment=course_rnn",), 60),
    Case("char_lm", "char LM (GRU 384)", ("experiment=char_lm",), 8, has_course_pipeline=False),
)
WARMUP = 3
WAYS = ("plain", "lightning", "bare", "course")
BARE = (  # Lightning with nothing of ours around the model
    "~logger",
    "++trainer.enable_progress_bar=false",
    "++trainer.enable_model_summary=false",
    "++trainer.enable_checkpointing=false",
)


class StepTimer(Callback):
    """Times whole training steps, start hook to start hook, after `warmup` steps; refuses a
    window with a validation inside, which the other ways would not pay for."""

    last: StepTimer | None = None  # the instance of the latest run, read back by the bench

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps = warmup, steps
        self.start = self.seconds = None
        StepTimer.last = self

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()
        elif trainer.global_step == self.warmup + self.steps:
            self.seconds = time.perf_counter() - self.start

    def on_validation_start(self, trainer, pl_module) -> None:
        if self.start is not None and self.seconds is None:
            raise RuntimeError("validation ran inside the timed window: use fewer steps")


def case_config(
    case: Case, out_dir: str, steps: int, threads: int, bare: bool = False
) -> DictConfig:
    """The case's experiment as `dl101.train` runs it, stopped after warm-up + timed steps."""
    extra = BARE if bare else ("+callbacks.progress_bar.console_kwargs.force_terminal=true",)
    cfg = compose_config(
        Path(out_dir),
        [
            *case.overrides,
            *extra,
            f"trainer.max_steps={WARMUP + steps + 1}",
            f"threads={threads}",
            "test=false",
            "++trainer.max_time=null",  # char_lm's safety net would add a timer callback
        ],
    )
    with open_dict(cfg):
        if bare:  # experiments add callbacks of their own (test-set curve, samples): none here
            cfg.callbacks = {}
        cfg.callbacks.step_timer = {
            "_target_": "benchmarks.bench.StepTimer",
            "warmup": WARMUP,
            "steps": steps,
        }
    return cfg


def preloaded_batches(datamodule, batch_size: int) -> Iterator:
    """The plain loop's data: the datamodule's tensors, shuffled by randperm, gathered by index."""
    if isinstance(getattr(datamodule, "train_set", None), TensorBatches):
        x, y = datamodule.train_set.x, datamodule.train_set.y
        while True:
            order = torch.randperm(len(y), device=x.device)
            for start in range(0, len(y) - batch_size + 1, batch_size):
                index = order[start : start + batch_size]
                yield x[index], y[index]
    else:  # text: the same contiguous streams Lightning reads
        loader = datamodule.train_dataloader()
        while True:
            yield from loader


def course_batches(cfg: DictConfig, batch_size: int) -> Iterator:
    """The course's pipeline: per-sample PIL -> ToTensor (-> Normalize, RandomAffine as set)."""
    steps = []
    if cfg.data.get("augment"):
        augment = cfg.data.augment
        steps.append(
            transforms.RandomAffine(augment.degrees, tuple(augment.translate), tuple(augment.scale))
        )
    steps.append(transforms.ToTensor())
    if cfg.data.get("normalize"):
        steps.append(transforms.Normalize((cfg.data.mean,), (cfg.data.std,)))
    dataset = datasets.MNIST(cfg.paths.data_dir, train=True, transform=transforms.Compose(steps))
    while True:
        yield from DataLoader(dataset, batch_size=batch_size, shuffle=True)


def new_model(cfg: DictConfig, datamodule):
    torch.manual_seed(cfg.seed)
    model = instantiate(cfg.model, **model_args(datamodule, cfg.model))
    return model.train()


def plain_loop(cfg: DictConfig, datamodule, batches: Iterator, steps: int, augment=None) -> float:
    """Seconds for `steps` steps after warm-up of the loop a student writes by hand."""
    model = new_model(cfg, datamodule)
    configured = model.configure_optimizers()
    optimizer = configured["optimizer"] if isinstance(configured, dict) else configured
    clip = cfg.trainer.get("gradient_clip_val")
    language = isinstance(model, RNNLanguageModel)
    state, start = None, None
    for step, (x, y) in enumerate(batches):
        if step == WARMUP:
            start = time.perf_counter()
        if step == WARMUP + steps:
            break
        if augment is not None:
            x = augment(x)
        if language:
            logits, state = model(x, state)
            state = detach_state(state)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        else:
            loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    return time.perf_counter() - start


def lightning_run(cfg: DictConfig, steps: int) -> float:
    train(cfg)
    timer = StepTimer.last
    if timer is None or timer.seconds is None:
        raise RuntimeError(f"the run stopped before {steps} timed steps")
    return timer.seconds


def training_flops_per_sample(cfg: DictConfig, datamodule) -> float:
    """Matmul and convolution FLOPs of one forward + backward, per sample (what the bound
    counts; element-wise work is left out, so the bound is optimistic)."""
    model = new_model(cfg, datamodule)
    x, y = next(preloaded_batches(datamodule, cfg.data.batch_size))
    with FlopCounterMode(display=False) as counter:
        if isinstance(model, RNNLanguageModel):
            logits, _ = model(x)
            F.cross_entropy(logits.flatten(0, 1), y.flatten()).backward()
        else:
            F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / len(x)


def machine_flops(size: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of a float32 matmul at the current thread count: the best this CPU does."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / min(times)


def measure_case(
    case: Case, repeats: int, scale: float, log_path: str, threads: int | None = None
) -> dict:
    """One model, in its own process: the four ways interleaved, `repeats` times each."""
    with open(log_path, "a") as log:
        # This worker's stdout and stderr (progress bars, Lightning's prints) go to the log.
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        steps = max(2, round(case.steps * scale))
        with tempfile.TemporaryDirectory() as out_dir:
            probe = case_config(case, out_dir, steps, threads=1)
            datamodule = instantiate(probe.data)
            datamodule.prepare_data()
            datamodule.setup("fit")
            threads = threads or fastest_threads(new_model(probe, datamodule), datamodule)
            torch.set_num_threads(threads)
            batch_size = probe.data.batch_size
            times: dict[str, list[float]] = {way: [] for way in WAYS}
            for _ in range(repeats):
                cfg = case_config(case, out_dir, steps, threads)
                preloaded = preloaded_batches(datamodule, batch_size)
                augment = getattr(datamodule, "augmenter", None)  # the course's is in `course`
                times["plain"].append(plain_loop(cfg, datamodule, preloaded, steps, augment))
                times["lightning"].append(lightning_run(cfg, steps))
                bare = case_config(case, out_dir, steps, threads, bare=True)
                times["bare"].append(lightning_run(bare, steps))
                if case.has_course_pipeline:
                    course = course_batches(cfg, batch_size)
                    times["course"].append(plain_loop(cfg, datamodule, course, steps))
            flops = training_flops_per_sample(probe, datamodule)
            peak_flops = machine_flops()
    samples = steps * batch_size
    sps = {way: samples / statistics.median(t) if t else None for way, t in times.items()}
    return {
        "model": case.name,
        "key": case.key,
        "threads": threads,
        "batch_size": batch_size,
        "steps": steps,
        "repeats": repeats,
        "plain_sps": sps["plain"],
        "lightning_sps": sps["lightning"],
        "course_sps": sps["course"],
        "bare_lightning_sps": sps["bare"],
        "ratio_lightning_plain": sps["lightning"] / sps["plain"],
        "ratio_lightning_course": sps["lightning"] / sps["course"] if sps["course"] else None,
        "train_flops_per_sample": flops,
        "machine_gflops": peak_flops / 1e9,
        "bound_sps": peak_flops / flops,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "seconds": {way: t for way, t in times.items()},
    }


def in_fresh_process(function, *args):
    """Run in a new process: its own peak memory, threads and Lightning state."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


COLUMNS = (
    ("model", "model", "s"),
    ("threads", "threads", "d"),
    ("plain (a)", "plain_sps", ",.0f"),
    ("dl101 Lightning (b)", "lightning_sps", ",.0f"),
    ("bare Lightning (b0)", "bare_lightning_sps", ",.0f"),
    ("course (c)", "course_sps", ",.0f"),
    ("b/a", "ratio_lightning_plain", ".2f"),
    ("b/c", "ratio_lightning_course", ".1f"),
    ("FLOP bound", "bound_sps", ",.0f"),
    ("peak RSS MB", "peak_rss_mb", ",.0f"),
)


def markdown(rows: list[dict], commands: list[dict], title: str) -> str:
    lines = []
    if rows:
        lines += [f"## {title}", ""] + markdown_table(
            [header for header, *_ in COLUMNS],
            [[fmt(row[key], spec) for _, key, spec in COLUMNS] for row in rows],
        )
    if commands:
        lines += ["", f"## Whole commands, as typed ({os.cpu_count()} CPUs)", ""][not rows :]
        lines += markdown_table(list(COMMAND_COLUMNS), [command_cells(row) for row in commands])
    return "\n".join(lines) + "\n"


def print_tables(rows: list[dict], commands: list[dict], title: str) -> None:
    console = Console()
    if rows:
        table = Table(title=title)
        for header, key, _ in COLUMNS:
            table.add_column(header, justify="left" if key == "model" else "right")
        for row in rows:
            table.add_row(*(fmt(row[key], spec) for _, key, spec in COLUMNS))
        console.print(table)
    if commands:
        table = Table(title="Whole commands, as typed")
        for header in COMMAND_COLUMNS:
            table.add_column(header, justify="right" if header.endswith(" s") else "left")
        for row in commands:
            table.add_row(*(cell.strip("`") for cell in command_cells(row)))
        console.print(table)


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    keys = [case.key for case in CASES]
    parser.add_argument("--models", nargs="*", choices=keys, default=keys, help="none: no steps")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per way (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the timed steps")
    parser.add_argument("--threads", type=int, default=None, help="default: dl101's thread rule")
    parser.add_argument(
        "--commands", action="store_true", help="also time whole commands (--help, runs, a sweep)"
    )
    parser.add_argument(
        "--stacked", action="store_true", help="also stacked sweeps against one job at a time"
    )
    parser.add_argument("--out", default=str(PROJECT_ROOT / "logs" / "bench"))
    args = parser.parse_args(argv)

    out_dir = Path(args.out) / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = str(out_dir / "runs.log")
    console = Console()
    rows = []
    for case in (c for c in CASES if c.key in args.models):
        console.print(f"[bold]{case.name}[/]: {args.repeats} x 4 ways ...")
        rows.append(
            in_fresh_process(measure_case, case, args.repeats, args.scale, log_path, args.threads)
        )
    if args.commands:
        console.print("[bold]Whole commands[/]: --help, course runs, the regularization sweep ...")
    commands = command_rows(log_path) if args.commands else []
    if args.stacked:
        console.print("[bold]Stacked sweeps[/]: regularization, 5-100 seeds, LeNet ...")
    stacked = stacked_sweeps.rows(log_path, quick=False) if args.stacked else []

    title = (
        f"Training samples/s, median of {args.repeats} ({os.cpu_count()} CPUs, "
        f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'})"
    )
    print_tables(rows, commands, title)
    (out_dir / "bench.json").write_text(json.dumps(rows, indent=2))
    if commands:
        (out_dir / "commands.json").write_text(json.dumps(commands, indent=2))
    if stacked:
        (out_dir / "stacked.json").write_text(json.dumps(stacked, indent=2))
        console.print(stacked_sweeps.markdown(stacked))
    text = markdown(rows, commands, title)
    (out_dir / "bench.md").write_text(
        text + (f"\n{stacked_sweeps.markdown(stacked)}" if stacked else "")
    )
    console.print(f"Written: {out_dir}/bench.md, bench.json (the workers' output: runs.log)")
    return out_dir


if __name__ == "__main__":
    # Through the module's own name, so the worker processes find these functions by it.
    from benchmarks import bench

    bench.main(sys.argv[1:])
