"""The fast path: batches straight from tensors on the training device, logging only on the
steps loggers write, callback hooks Lightning need not call, and the thread rule."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from unittest.mock import PropertyMock, patch

import pytest
import torch
from benchmarks.bench import COLUMNS
from pytorch_lightning import Callback
from pytorch_lightning.callbacks import RichProgressBar as LightningRichProgressBar
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.data import SequentialSampler

from dl101.callbacks import FiniteLossGuard, RichProgressBar
from dl101.data import MNISTDataModule
from dl101.data.batching import EpochShuffleSampler, IndexBatchSampler, TensorBatches, tensor_loader
from dl101.internals import hide_unused_batch_hooks
from dl101.models import MLP
from dl101.run.threads import fastest_threads, threads_per_job
from dl101.run.training import train
from tests.helpers import QUIET, compose_config, run_module


def ids_loader(size: int, batch_size: int):
    data = TensorBatches(torch.zeros(size, 2), torch.arange(size))  # targets are sample ids
    return tensor_loader(data, batch_size, shuffle=True)


def test_each_epoch_yields_every_sample_once_in_a_new_order():
    loader = ids_loader(1000, 64)
    epochs = []
    for epoch in range(2):
        loader.batch_sampler.sampler.set_epoch(epoch)  # what Lightning does each epoch
        batches = [y for _, y in loader]
        assert len(batches) == len(loader) == 16 and len(batches[-1]) == 1000 - 15 * 64
        seen = torch.cat(batches)
        assert sorted(seen.tolist()) == list(range(1000))
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1])
    again = ids_loader(1000, 64)
    again.batch_sampler.sampler.set_epoch(1)
    assert torch.equal(torch.cat([y for _, y in again]), epochs[1])  # (seed, epoch) fix it


def test_unseeded_sampler_accepts_a_64_bit_initial_seed():
    sampler = EpochShuffleSampler(10, seed=2**64 - 59)
    sampler.set_epoch(3)
    assert sorted(sampler) == list(range(10))


def test_batches_come_as_index_tensors_on_the_data_device():
    sampler = IndexBatchSampler(EpochShuffleSampler(10, seed=0), 4, device="meta")
    batches = list(sampler)
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.device.type == "meta" for b in batches)


def test_a_resumed_epoch_skips_exactly_the_batches_it_had_done():
    whole = [b.tolist() for b in IndexBatchSampler(EpochShuffleSampler(10, seed=0), 3)]
    resumed = IndexBatchSampler(EpochShuffleSampler(10, seed=0), 3, done=lambda: 2)
    assert [b.tolist() for b in resumed] == whole[2:]  # the same order, from the third batch
    in_order = IndexBatchSampler(SequentialSampler(range(10)), 3, drop_last=True)
    assert [b.tolist() for b in in_order] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_datamodule_moves_its_data_to_the_trainer_device(mnist_dir):
    """The GPU code path, run on CPU: `meta` stands in for the GPU the trainer would name."""
    dm = MNISTDataModule(str(mnist_dir), train_subset=256, batch_size=32)
    dm.trainer = SimpleNamespace(
        strategy=SimpleNamespace(root_device=torch.device("meta")), training=False
    )
    dm.setup("fit")
    assert {d.x.device.type for d in (dm.train_set, dm.val_set, dm.test_set)} == {"meta"}
    x, y = next(iter(dm.train_dataloader()))
    assert x.device.type == y.device.type == "meta" and x.shape == (32, 1, 28, 28)
    kept = MNISTDataModule(str(mnist_dir), train_subset=256, keep_on_device=False)
    kept.trainer = dm.trainer
    kept.setup("fit")
    assert kept.train_set.x.device.type == "cpu"


def test_gpu_data_refuses_worker_processes():
    data = TensorBatches(torch.zeros(4, 2, device="meta"), torch.zeros(4, device="meta"))
    with pytest.raises(ValueError, match="data.num_workers=2 with the data on meta"):
        tensor_loader(data, 2, shuffle=False, num_workers=2)


def test_scalars_are_logged_on_logger_steps_and_as_epoch_means(mnist_dir, tmp_path):
    overrides = ["trainer.max_epochs=2", "data.train_subset=1280", "data.batch_size=64",
                 "trainer.log_every_n_steps=5", *QUIET]  # fmt: skip
    train(compose_config(tmp_path, overrides))
    accumulator = EventAccumulator(str(tmp_path))
    accumulator.Reload()
    steps = {
        tag: [e.step for e in accumulator.Scalars(tag)] for tag in accumulator.Tags()["scalars"]
    }
    assert steps["train/loss"] == list(range(4, 40, 5))  # 20 steps an epoch, every 5th
    assert len(steps["train/loss_epoch"]) == len(steps["train/acc"]) == 2


def test_unused_batch_hooks_are_hidden_and_used_ones_kept():
    class Counting(Callback):
        def on_train_batch_end(self, *args):
            pass

    guard, counting = hide_unused_batch_hooks([FiniteLossGuard(), Counting()])
    assert guard.on_train_batch_end is not None and guard.on_before_backward is None
    assert counting.on_train_batch_end is not None and counting.on_train_batch_start is None
    assert not callable(counting.on_validation_batch_end)  # Lightning then passes over it


def test_progress_bar_updates_every_n_batches():
    bar = RichProgressBar(every_n_batches=10)
    with (
        patch.object(LightningRichProgressBar, "on_train_batch_end") as update,
        patch.object(RichProgressBar, "total_train_batches", PropertyMock(return_value=25)),
    ):
        for batch_idx in range(25):
            bar.on_train_batch_end(None, None, None, None, batch_idx)
    assert [c.args[-1] for c in update.call_args_list] == [9, 19, 24]  # every 10th, the last


def test_thread_rule_picks_one_or_all_cores_without_touching_the_run(mnist_dir):
    dm = MNISTDataModule(str(mnist_dir), train_subset=512)
    dm.setup("fit")
    model = MLP([1, 28, 28], 10, [50, 20], dropout=0.2, optimizer=torch.optim.SGD)  # uses RNG
    before = [p.detach().clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    threads = fastest_threads(model, dm)
    assert threads in {1, os.cpu_count()} and torch.get_num_threads() == threads
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(rng, torch.get_rng_state())


def test_thread_settings_by_config(tmp_path):
    cores = os.cpu_count()
    assert threads_per_job(compose_config(tmp_path, ["threads=3"])) == 3
    assert threads_per_job(compose_config(tmp_path, [])) is None  # auto: measured at train time
    ddp = compose_config(tmp_path, ["trainer=ddp", "trainer.devices=2"])
    assert threads_per_job(ddp) == max(1, cores // 2)
    for bad in ("threads=fast", "threads=0"):
        with pytest.raises(ValueError, match="give auto, a positive number of threads, or null"):
            threads_per_job(compose_config(tmp_path, [bad]))


def bench_rows(tmp_path, *models: str) -> tuple[list[dict], str]:
    """`python -m benchmarks.bench` on a few steps: its rows (bench.json) and table (bench.md)."""
    run_module("benchmarks.bench", "--scale", "0.01", "--repeats", "1", "--out", str(tmp_path),
               *(["--models", *models] if models else []))  # fmt: skip
    (out_dir,) = tmp_path.iterdir()
    return json.loads((out_dir / "bench.json").read_text()), (out_dir / "bench.md").read_text()


def test_bench_writes_its_table_with_every_column(mnist_dir, tmp_path):
    """The benchmark end to end on a few steps of one model: not a timing test, a test that it
    measures (every model, the language model without a course pipeline: the slow suite)."""
    rows, table = bench_rows(tmp_path, "softmax")
    assert [row["key"] for row in rows] == ["softmax"]
    required = {"model", "plain_sps", "lightning_sps", "course_sps", "ratio_lightning_plain",
                "ratio_lightning_course", "bound_sps", "peak_rss_mb"}  # fmt: skip
    for row in rows:
        assert required <= row.keys()
        for key in required - {"model", "course_sps", "ratio_lightning_course"}:
            assert row[key] > 0, (row["model"], key)
        assert (row["course_sps"] is None) == (row["key"] == "char_lm")
        assert row["ratio_lightning_plain"] == pytest.approx(
            row["lightning_sps"] / row["plain_sps"]
        )
    assert all(title in table for title, *_ in COLUMNS)
    assert len([line for line in table.splitlines() if line.startswith("| ")]) == 1 + len(rows)


@pytest.mark.slow
def test_bench_measures_every_course_model(mnist_dir, tmp_path):
    rows, _ = bench_rows(tmp_path)
    assert [row["key"] for row in rows] == ["softmax", "mlp", "lenet", "cnn", "rnn", "char_lm"]
    for row in rows:
        assert row["lightning_sps"] > 0 and row["plain_sps"] > 0, row["model"]
        assert (row["course_sps"] is None) == (row["key"] == "char_lm")


@pytest.mark.slow
def test_bench_times_whole_commands_as_typed(mnist_dir, tmp_path):
    """The whole-command table: every row measured, the course run's fit apart from the rest,
    the regularization sweep's 20 jobs all trained in stacked groups."""
    run_module("benchmarks.bench", "--models", "--commands", "--out", str(tmp_path), timeout=1200)
    (out_dir,) = tmp_path.iterdir()
    rows = {row["command"]: row for row in json.loads((out_dir / "commands.json").read_text())}
    assert list(rows) == [
        "python -c 'import pytorch_lightning'",
        "python -m dl101.train --help",
        "python -m dl101.train experiment=course_logreg",
        "python -m dl101.train experiment=course_rnn",
        "make sweep-regularization",
    ]
    assert all(row["wall_s"] > 0 for row in rows.values())
    logreg = rows["python -m dl101.train experiment=course_logreg"]
    assert 0 < logreg["fit_s"] < logreg["wall_s"]
    assert logreg["rest_s"] == pytest.approx(logreg["wall_s"] - logreg["fit_s"])
    assert logreg["result"].count(" 0.") == 6  # test accuracy at each of the 6 x 500 steps
    sweep = rows["make sweep-regularization"]
    assert sweep["result"].startswith("20 jobs -> ") and "alone" not in sweep["result"]
    assert "## Whole commands" in (out_dir / "bench.md").read_text()
